package registry

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/google/go-containerregistry/pkg/authn"
)

// acrUsername is the user name ACR expects with a refresh token as the
// password (what `az acr login --expose-token` prints).
const acrUsername = "00000000-0000-0000-0000-000000000000"

// The environment the AKS workload identity webhook injects into a pod
// whose service account is annotated azure.workload.identity/client-id.
const (
	envAzureTokenFile = "AZURE_FEDERATED_TOKEN_FILE"
	envAzureClientID  = "AZURE_CLIENT_ID"
	envAzureTenantID  = "AZURE_TENANT_ID"
)

// isACR reports whether host is an Azure Container Registry login server
// in the public, China or US Government cloud.
func isACR(host string) bool {
	for _, s := range []string{".azurecr.io", ".azurecr.cn", ".azurecr.us"} {
		if strings.HasSuffix(host, s) && len(host) > len(s) {
			return true
		}
	}
	return false
}

// acrScope is the Entra ID scope of the token exchanged at host: Azure
// Resource Manager of the registry's cloud, as Flux asks for. (These are
// azcore/arm's endpoints; importing arm only to have its init fill
// azcore/cloud's table would be a global side effect for three strings.)
func acrScope(host string) string {
	switch {
	case strings.HasSuffix(host, ".azurecr.cn"):
		return "https://management.chinacloudapi.cn/.default"
	case strings.HasSuffix(host, ".azurecr.us"):
		return "https://management.usgovcloudapi.net/.default"
	}
	return "https://management.azure.com/.default"
}

// azureIdentity turns the pod's Azure identity into ACR credentials: an
// Entra ID access token from azidentity (workload identity when the
// webhook's federated token file is there, else managed identity),
// exchanged at the registry's /oauth2/exchange for a refresh token.
type azureIdentity struct {
	// rt carries the exchange: the client's own transport, so the host's
	// scheme rule, TLS settings, limits, retries and counts apply.
	rt http.RoundTripper
	// insecure reports the hosts marked Insecure (nil: none).
	insecure func(host string) bool
	// client configures azidentity's requests; the zero value is the
	// library's defaults. Tests give a transport that trusts their TLS
	// stand-in and reaches nothing beyond loopback.
	client azcore.ClientOptions
	// disableInstanceDiscovery skips MSAL's authority validation, which
	// asks login.microsoftonline.com about any authority host it does not
	// know; only tests, whose authority is a stand-in, set it.
	disableInstanceDiscovery bool

	mu   sync.Mutex
	cred azcore.TokenCredential // kept: azidentity caches its token in it
	kind string                 // "workload identity" or "managed identity"
	// refresh holds each registry's refresh token until shortly before
	// it expires (ACR's last three hours), so a pass over many of its
	// repositories exchanges once.
	refresh map[string]acrToken
}

type acrToken struct {
	token   string
	expires time.Time
}

// refreshMargin is how long before its expiry a refresh token is
// exchanged again, so that none expires during a pass.
const refreshMargin = 15 * time.Minute

// credential returns the pod's Azure credential and what kind it is.
func (a *azureIdentity) credential() (azcore.TokenCredential, string, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.cred != nil {
		return a.cred, a.kind, nil
	}
	if os.Getenv(envAzureTokenFile) != "" {
		// The webhook's environment: workload identity, and nothing else,
		// so a half-configured pod reports what its configuration lacks.
		cred, err := azidentity.NewWorkloadIdentityCredential(&azidentity.WorkloadIdentityCredentialOptions{
			ClientOptions:            a.client,
			DisableInstanceDiscovery: a.disableInstanceDiscovery,
		})
		if err != nil {
			return nil, "", fmt.Errorf("workload identity (%s is set): %w", envAzureTokenFile, err)
		}
		a.cred, a.kind = cred, "workload identity"
		return a.cred, a.kind, nil
	}
	opts := &azidentity.ManagedIdentityCredentialOptions{ClientOptions: a.client}
	// Bounded: azidentity's default for IMDS (six retries up to 25 s
	// apart, a minute per try) would keep a pod that has no identity, or
	// no IMDS at all, waiting for minutes before it says so. Three tries
	// of at most 10 s: an AKS node's IMDS answers within that.
	opts.Retry = policy.RetryOptions{MaxRetries: 2, TryTimeout: 10 * time.Second}
	if id := os.Getenv(envAzureClientID); id != "" {
		opts.ID = azidentity.ClientID(id)
	}
	cred, err := azidentity.NewManagedIdentityCredential(opts)
	if err != nil {
		return nil, "", fmt.Errorf("managed identity: %w", err)
	}
	a.cred, a.kind = cred, "managed identity"
	return a.cred, a.kind, nil
}

// noWorkloadIdentity says what of workload identity's environment a pod
// lacks.
func noWorkloadIdentity() string {
	var unset []string
	for _, k := range []string{envAzureTokenFile, envAzureClientID, envAzureTenantID} {
		if os.Getenv(k) == "" {
			unset = append(unset, k)
		}
	}
	verb := "is"
	if len(unset) > 1 {
		verb = "are"
	}
	return fmt.Sprintf("no workload identity (%s %s not set: is the service account annotated azure.workload.identity/client-id and the pod labelled azure.workload.identity/use: \"true\"?)",
		strings.Join(unset, ", "), verb)
}

func (a *azureIdentity) resolve(ctx context.Context, host string) (authn.Authenticator, error) {
	a.mu.Lock()
	cached, ok := a.refresh[host]
	a.mu.Unlock()
	if ok && time.Until(cached.expires) > refreshMargin {
		return a.auth(host, cached.token), nil
	}
	cred, kind, err := a.credential()
	if err != nil {
		return nil, fmt.Errorf("registry %s, provider azure: %w", host, err)
	}
	tok, err := cred.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{acrScope(host)}})
	if err != nil {
		if kind == "managed identity" {
			return nil, fmt.Errorf("registry %s, provider azure: %s, and managed identity gave no Entra ID token: %w", host, noWorkloadIdentity(), err)
		}
		return nil, fmt.Errorf("registry %s, provider azure: %s gave no Entra ID token: %w", host, kind, err)
	}
	refresh, err := a.exchange(ctx, host, tok.Token)
	if err != nil {
		return nil, fmt.Errorf("registry %s, provider azure: exchanging the %s's Entra ID token for an ACR token: %w", host, kind, err)
	}
	if exp, ok := jwtExpiry(refresh); ok {
		a.mu.Lock()
		if a.refresh == nil {
			a.refresh = map[string]acrToken{}
		}
		a.refresh[host] = acrToken{token: refresh, expires: exp}
		a.mu.Unlock()
	}
	return a.auth(host, refresh), nil
}

func (a *azureIdentity) auth(host, refresh string) authn.Authenticator {
	a.mu.Lock()
	kind := a.kind
	a.mu.Unlock()
	return sourcedAuth{
		Authenticator: &authn.Basic{Username: acrUsername, Password: refresh},
		src:           "the Azure " + kind + " (provider azure) for " + host,
	}
}

// jwtExpiry reads the exp claim of a JWT without verifying it: ACR
// verifies its own tokens; this only decides when to ask for another.
// A token that is not a JWT with exp is not kept.
func jwtExpiry(token string) (time.Time, bool) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return time.Time{}, false
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return time.Time{}, false
	}
	var claims struct {
		Exp json.Number `json:"exp"`
	}
	if json.Unmarshal(payload, &claims) != nil {
		return time.Time{}, false
	}
	exp, err := claims.Exp.Int64()
	if err != nil {
		return time.Time{}, false
	}
	return time.Unix(exp, 0), true
}

// maxExchangeBytes bounds the exchange's answer: a refresh token is a few
// kilobytes.
const maxExchangeBytes = 1 << 20

// exchange trades an Entra ID access token for an ACR refresh token
// (ACR's AAD-OAuth: POST /oauth2/exchange, grant_type=access_token). The
// scheme follows the registry's: plain HTTP for loopback hosts; HTTPS,
// then plain HTTP when that cannot connect, for hosts marked Insecure;
// else HTTPS.
func (a *azureIdentity) exchange(ctx context.Context, host, accessToken string) (string, error) {
	switch {
	case isLoopback(host):
		return a.exchangeAt(ctx, "http", host, accessToken)
	case a.insecure != nil && a.insecure(host):
		tok, err := a.exchangeAt(ctx, "https", host, accessToken)
		var failed *exchangeError
		if err != nil && !errors.As(err, &failed) {
			return a.exchangeAt(ctx, "http", host, accessToken)
		}
		return tok, err
	}
	return a.exchangeAt(ctx, "https", host, accessToken)
}

// exchangeError is an exchange the registry answered and refused.
type exchangeError struct{ msg string }

func (e *exchangeError) Error() string { return e.msg }

func (a *azureIdentity) exchangeAt(ctx context.Context, scheme, host, accessToken string) (string, error) {
	form := url.Values{
		"grant_type":   {"access_token"},
		"service":      {host},
		"access_token": {accessToken},
	}
	if tenant := os.Getenv(envAzureTenantID); tenant != "" {
		form.Set("tenant", tenant)
	}
	u := scheme + "://" + host + "/oauth2/exchange"
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, strings.NewReader(form.Encode()))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := a.rt.RoundTrip(req)
	if err != nil {
		return "", fmt.Errorf("POST %s: %w", u, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxExchangeBytes+1))
	if err != nil {
		return "", fmt.Errorf("POST %s: reading the answer: %w", u, err)
	}
	if resp.StatusCode != http.StatusOK {
		return "", &exchangeError{fmt.Sprintf("POST %s: %s%s", u, resp.Status, exchangeDetail(body, accessToken))}
	}
	if len(body) > maxExchangeBytes {
		return "", fmt.Errorf("POST %s: answer larger than %d bytes", u, maxExchangeBytes)
	}
	var out struct {
		RefreshToken string `json:"refresh_token"`
	}
	if err := json.Unmarshal(body, &out); err != nil {
		return "", fmt.Errorf("POST %s: malformed answer: %v", u, err)
	}
	if out.RefreshToken == "" {
		return "", fmt.Errorf("POST %s: the answer has no refresh_token", u)
	}
	return out.RefreshToken, nil
}

// exchangeDetail is what ACR said about a refused exchange (its error
// messages, as docker's registry errors or OAuth2's error_description),
// never the body as such: it could echo the token.
func exchangeDetail(body []byte, accessToken string) string {
	var e struct {
		Errors []struct {
			Message string `json:"message"`
		} `json:"errors"`
		Description string `json:"error_description"`
	}
	if json.Unmarshal(body, &e) != nil {
		return ""
	}
	var msgs []string
	for _, x := range e.Errors {
		msgs = append(msgs, x.Message)
	}
	if e.Description != "" {
		msgs = append(msgs, e.Description)
	}
	msg := strings.Join(msgs, "; ")
	if msg == "" || strings.Contains(msg, accessToken) {
		return ""
	}
	const max = 300
	if len(msg) > max {
		msg = strings.ToValidUTF8(msg[:max], "") + "…"
	}
	return ": " + msg
}

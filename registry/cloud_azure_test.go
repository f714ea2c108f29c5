package registry

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/google/go-cmp/cmp"

	"github.com/imagebump/imagebump/test/registrytest"
)

// withAzureTransport sends azidentity's requests through rt and skips
// MSAL's instance discovery, which would ask login.microsoftonline.com
// about the stand-in authority.
func withAzureTransport(rt http.RoundTripper) Option {
	return func(o *options) error {
		o.azure.Transport = &http.Client{Transport: rt}
		o.azureNoDiscovery = true
		return nil
	}
}

// loopbackOnly is azidentity's transport in tests: it sends IMDS's
// requests (169.254.169.254, which no setting of the library moves) to a
// local stand-in and refuses every other host that is not 127.0.0.1, so
// a test can never reach Azure.
type loopbackOnly struct {
	next http.RoundTripper
	imds string // host:port of the IMDS stand-in

	mu      sync.Mutex
	refused []string
}

func (l *loopbackOnly) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.URL.Host == "169.254.169.254" && l.imds != "" {
		r = r.Clone(r.Context())
		r.URL.Host = l.imds
		r.Host = l.imds
	}
	if h, _, err := net.SplitHostPort(r.URL.Host); err != nil || h != "127.0.0.1" {
		l.mu.Lock()
		l.refused = append(l.refused, r.URL.String())
		l.mu.Unlock()
		return nil, errors.New("test transport: refusing a request beyond loopback to " + r.URL.Host)
	}
	return l.next.RoundTrip(r)
}

// entraStandIn answers as Microsoft Entra ID (the OpenID configuration
// and token endpoint of the tenant, for workload identity's client
// assertion) and as IMDS (managed identity), handing out accessToken.
type entraStandIn struct {
	t           *testing.T
	url         string // the authority's https://127.0.0.1:PORT
	tenant      string
	clientID    string
	assertion   string // the federated token file's content
	imds        bool   // whether IMDS has an identity
	accessToken string

	mu       sync.Mutex
	requests []string // "token SCOPE" or "imds RESOURCE CLIENT_ID"
}

func (s *entraStandIn) record(r string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests = append(s.requests, r)
}

func (s *entraStandIn) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.Method == http.MethodGet && r.URL.Path == "/"+s.tenant+"/v2.0/.well-known/openid-configuration":
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"authorization_endpoint":"%[1]s/%[2]s/oauth2/v2.0/authorize","token_endpoint":"%[1]s/%[2]s/oauth2/v2.0/token","issuer":"%[1]s/%[2]s/v2.0"}`, s.url, s.tenant)
	case r.Method == http.MethodPost && r.URL.Path == "/"+s.tenant+"/oauth2/v2.0/token":
		if r.FormValue("grant_type") != "client_credentials" || r.FormValue("client_id") != s.clientID ||
			r.FormValue("client_assertion_type") != "urn:ietf:params:oauth:client-assertion-type:jwt-bearer" ||
			r.FormValue("client_assertion") != s.assertion {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprint(w, `{"error":"invalid_client","error_description":"AADSTS700016: bad client assertion"}`)
			return
		}
		// MSAL adds the OpenID scopes to the one asked for.
		var scopes []string
		for _, sc := range strings.Fields(r.FormValue("scope")) {
			if sc != "openid" && sc != "offline_access" && sc != "profile" {
				scopes = append(scopes, sc)
			}
		}
		s.record("token " + strings.Join(scopes, " "))
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"token_type":"Bearer","expires_in":3600,"access_token":%q}`, s.accessToken)
	case r.Method == http.MethodGet && r.URL.Path == "/metadata/identity/oauth2/token":
		if r.Header.Get("Metadata") != "true" {
			http.Error(w, "no Metadata header", http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		if !s.imds {
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprint(w, `{"error":"invalid_request","error_description":"Identity not found"}`)
			return
		}
		q := r.URL.Query()
		s.record("imds " + q.Get("resource") + " " + q.Get("client_id"))
		fmt.Fprintf(w, `{"access_token":%q,"expires_in":"3600","expires_on":"%d","resource":%q,"token_type":"Bearer"}`,
			s.accessToken, 4102444800, q.Get("resource"))
	default:
		s.t.Errorf("Entra stand-in: unexpected %s %s", r.Method, r.URL)
		http.NotFound(w, r)
	}
}

// acrExchange puts ACR's /oauth2/exchange in front of a registry: it
// trades accessToken for refreshToken, and records each exchange's form.
type acrExchange struct {
	accessToken, refreshToken string
	refuse                    bool // answer 401 as ACR does to an identity without access

	mu    sync.Mutex
	forms []url.Values
}

func (x *acrExchange) middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/oauth2/exchange" {
			next.ServeHTTP(w, r)
			return
		}
		if r.Method != http.MethodPost || r.ParseForm() != nil {
			http.Error(w, "bad exchange", http.StatusBadRequest)
			return
		}
		x.mu.Lock()
		x.forms = append(x.forms, r.PostForm)
		x.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		if x.refuse || r.PostForm.Get("access_token") != x.accessToken {
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprintf(w, `{"errors":[{"code":"UNAUTHORIZED","message":"identity has no access to %s"}]}`, r.PostForm.Get("service"))
			return
		}
		fmt.Fprintf(w, `{"refresh_token":%q}`, x.refreshToken)
	})
}

// azureEnv sets every variable azidentity and MSAL read to what the test
// gives, and clears the rest: no client secret or certificate, no App
// Service, Arc, Cloud Shell or Service Fabric managed identity endpoint.
func azureEnv(t *testing.T, set map[string]string) {
	t.Helper()
	for _, k := range []string{
		"AZURE_FEDERATED_TOKEN_FILE", "AZURE_CLIENT_ID", "AZURE_TENANT_ID", "AZURE_AUTHORITY_HOST",
		"AZURE_CLIENT_SECRET", "AZURE_CLIENT_CERTIFICATE_PATH", "AZURE_CLIENT_CERTIFICATE_PASSWORD",
		"AZURE_USERNAME", "AZURE_PASSWORD", "AZURE_ADDITIONALLY_ALLOWED_TENANTS", "AZURE_REGIONAL_AUTHORITY_NAME",
		"AZURE_TOKEN_CREDENTIALS", "AZURE_POD_IDENTITY_AUTHORITY_HOST",
		"IDENTITY_ENDPOINT", "IDENTITY_HEADER", "IDENTITY_SERVER_THUMBPRINT", "IMDS_ENDPOINT",
		"MSI_ENDPOINT", "MSI_SECRET", "DEFAULT_IDENTITY_CLIENT_ID",
	} {
		t.Setenv(k, "")
		os.Unsetenv(k)
	}
	for k, v := range set {
		t.Setenv(k, v)
	}
}

// TestProviderAzure gets ACR credentials with the pod's Azure identity:
// an Entra ID token from a local stand-in of the authority
// (AZURE_AUTHORITY_HOST, for workload identity's federated token) or of
// IMDS (managed identity), exchanged at the registry's /oauth2/exchange
// for a refresh token that then lists the registry's tags. A missing or
// half-configured identity and a refused exchange are reported as such.
func TestProviderAzure(t *testing.T) {
	const (
		tenant    = "72f988bf-0000-0000-0000-2d7cd011db47"
		clientID  = "5a0c3f35-0000-0000-0000-8c61a1e5c2a7"
		assertion = "eyJ.service-account-token.sig"
		entraTok  = "entra-access-token"
		refresh   = "acr-refresh-token"
	)
	miClientID := uniqueID(t)
	for _, tc := range []struct {
		name   string
		env    func(tokenFile, authority string) map[string]string
		imds   bool
		refuse bool
		// wantEntra is what the stand-in was asked for.
		wantEntra []string
		// wantErr is the error with HOST for the registry's host.
		wantErr string
	}{{
		name: "workload identity",
		env: func(tokenFile, authority string) map[string]string {
			return map[string]string{"AZURE_FEDERATED_TOKEN_FILE": tokenFile, "AZURE_CLIENT_ID": clientID, "AZURE_TENANT_ID": tenant, "AZURE_AUTHORITY_HOST": authority}
		},
		wantEntra: []string{"token https://management.azure.com/.default"},
	}, {
		// MSAL keeps managed identity tokens in a cache of its own, one
		// per process: a client ID of its own keeps this token from
		// serving the other cases, which ask as the system identity.
		name: "managed identity, user-assigned",
		env: func(string, string) map[string]string {
			return map[string]string{"AZURE_CLIENT_ID": miClientID}
		},
		imds:      true,
		wantEntra: []string{"imds https://management.azure.com " + miClientID},
	}, {
		name:    "no identity",
		env:     func(string, string) map[string]string { return nil },
		wantErr: `registry HOST, provider azure: no workload identity (AZURE_FEDERATED_TOKEN_FILE, AZURE_CLIENT_ID, AZURE_TENANT_ID are not set: is the service account annotated azure.workload.identity/client-id and the pod labelled azure.workload.identity/use: "true"?), and managed identity gave no Entra ID token: ManagedIdentityCredential: failed to authenticate a system assigned identity. The endpoint responded with {"error":"invalid_request","error_description":"Identity not found"}`,
	}, {
		name: "no identity, a client ID without workload identity",
		env: func(string, string) map[string]string {
			return map[string]string{"AZURE_CLIENT_ID": clientID, "AZURE_TENANT_ID": tenant}
		},
		wantErr: `registry HOST, provider azure: no workload identity (AZURE_FEDERATED_TOKEN_FILE is not set: is the service account annotated azure.workload.identity/client-id and the pod labelled azure.workload.identity/use: "true"?), and managed identity gave no Entra ID token: ManagedIdentityCredential authentication failed. the requested identity isn't assigned to this resource`,
	}, {
		name: "workload identity without a client ID",
		env: func(tokenFile, authority string) map[string]string {
			return map[string]string{"AZURE_FEDERATED_TOKEN_FILE": tokenFile, "AZURE_TENANT_ID": tenant, "AZURE_AUTHORITY_HOST": authority}
		},
		wantErr: "registry HOST, provider azure: workload identity (AZURE_FEDERATED_TOKEN_FILE is set): no client ID specified",
	}, {
		name: "workload identity with no token file",
		env: func(_, authority string) map[string]string {
			bad := filepath.Join(os.TempDir(), "imagebump-no-such-token")
			return map[string]string{"AZURE_FEDERATED_TOKEN_FILE": bad, "AZURE_CLIENT_ID": clientID, "AZURE_TENANT_ID": tenant, "AZURE_AUTHORITY_HOST": authority}
		},
		wantErr: "registry HOST, provider azure: workload identity gave no Entra ID token: ",
	}, {
		name: "exchange refused",
		env: func(tokenFile, authority string) map[string]string {
			return map[string]string{"AZURE_FEDERATED_TOKEN_FILE": tokenFile, "AZURE_CLIENT_ID": clientID, "AZURE_TENANT_ID": tenant, "AZURE_AUTHORITY_HOST": authority}
		},
		refuse:    true,
		wantEntra: []string{"token https://management.azure.com/.default"},
		wantErr:   "registry HOST, provider azure: exchanging the workload identity's Entra ID token for an ACR token: POST http://HOST/oauth2/exchange: 401 Unauthorized: identity has no access to HOST",
	}} {
		t.Run(tc.name, func(t *testing.T) {
			cloudEnv(t)
			entra := &entraStandIn{t: t, tenant: tenant, clientID: clientID, assertion: assertion, imds: tc.imds, accessToken: entraTok}
			authority := httptest.NewTLSServer(entra)
			t.Cleanup(authority.Close)
			entra.url = authority.URL
			imds := httptest.NewServer(entra)
			t.Cleanup(imds.Close)
			tokenFile := filepath.Join(t.TempDir(), "azure-identity-token")
			if err := os.WriteFile(tokenFile, []byte(assertion), 0o600); err != nil {
				t.Fatal(err)
			}
			azureEnv(t, tc.env(tokenFile, authority.URL))

			x := &acrExchange{accessToken: entraTok, refreshToken: refresh, refuse: tc.refuse}
			// ACR's user name for refresh tokens, as `az acr login --expose-token` prints it.
			const user = "00000000-0000-0000-0000-000000000000"
			tokens := &tokenAuth{user: user, password: refresh}
			reg := registrytest.StartInProcess(t, registrytest.WithMiddleware(func(next http.Handler) http.Handler {
				return x.middleware(tokens.middleware(next))
			}))
			(&registrytest.Registry{Host: reg.Host, Username: user, Password: refresh}).Seed(t, "app", "1.0.0")
			guard := &loopbackOnly{next: authority.Client().Transport, imds: strings.TrimPrefix(imds.URL, "http://")}

			c := newClient(t, nil, withAzureTransport(guard), WithDockerConfig(emptyDockerConfig(t)),
				WithHosts(Host{Host: reg.Host, Provider: "azure"}))
			got, err := c.Tags(context.Background(), reg.Host+"/app")
			if tc.wantErr != "" {
				want := strings.ReplaceAll(tc.wantErr, "HOST", reg.Host)
				if err == nil || !strings.Contains(err.Error(), want) {
					t.Fatalf("Tags: %v, %v; want an error containing\n%s", got, err, want)
				}
			} else if err != nil {
				t.Fatal(err)
			} else if diff := cmp.Diff([]string{"1.0.0"}, got); diff != "" {
				t.Errorf("tags (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.wantEntra, entra.requests); diff != "" {
				t.Errorf("Entra ID requests (-want +got):\n%s", diff)
			}
			if len(tc.wantEntra) > 0 {
				// Every Entra token went to the exchange, for this registry.
				wantForm := url.Values{"grant_type": {"access_token"}, "service": {reg.Host}, "access_token": {entraTok}}
				if os.Getenv("AZURE_TENANT_ID") != "" {
					wantForm.Set("tenant", tenant)
				}
				if diff := cmp.Diff([]url.Values{wantForm}, x.forms); diff != "" {
					t.Errorf("exchanges (-want +got):\n%s", diff)
				}
			}
			if len(guard.refused) > 0 {
				t.Errorf("requests beyond loopback: %v", guard.refused)
			}
		})
	}
}

// emptyDockerConfig is a docker config without credentials, so only the
// provider can serve the registry.
func emptyDockerConfig(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "config.json")
	if err := os.WriteFile(p, []byte(`{"auths":{}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestProviderAzureOrder checks that the docker config comes before the
// Azure identity, which is then never asked.
func TestProviderAzureOrder(t *testing.T) {
	cloudEnv(t)
	azureEnv(t, nil)
	host := "127.0.0.1:5000"
	cfg := filepath.Join(t.TempDir(), "config.json")
	dockerConfig(t, cfg, host)
	guard := &loopbackOnly{next: http.DefaultTransport}
	got, err := resolve(t, host, withAzureTransport(guard), WithDockerConfig(cfg), WithHosts(Host{Host: host, Provider: "azure"}))
	if err != nil {
		t.Fatal(err)
	}
	if got.Username == acrUsername || got.Username == "" {
		t.Errorf("credentials %+v; want the docker config's, which come before the provider", got)
	}
	if len(guard.refused) > 0 {
		t.Errorf("requests beyond loopback: %v", guard.refused)
	}
}

// TestACRExchangeRequest checks the exchange's URL (the registry's scheme
// rule: plain HTTP for loopback hosts only), its form, and what of a
// refusal an error shows.
func TestACRExchangeRequest(t *testing.T) {
	for _, tc := range []struct {
		name, host, tenant string
		status             int
		body               string
		wantURL            string
		wantErr            string
		insecure           bool
		httpsDown          bool // HTTPS cannot connect
	}{
		{name: "insecure, HTTPS answers", host: "registry.internal:5000", status: 200, body: `{"refresh_token":"r"}`, wantURL: "https://registry.internal:5000/oauth2/exchange", insecure: true},
		{name: "insecure, plain HTTP only", host: "registry.internal:5000", status: 200, body: `{"refresh_token":"r"}`, wantURL: "http://registry.internal:5000/oauth2/exchange", insecure: true, httpsDown: true},
		{name: "insecure, HTTPS refuses", host: "registry.internal:5000", status: 401, body: `{}`, wantURL: "https://registry.internal:5000/oauth2/exchange", wantErr: "401 Unauthorized", insecure: true},
		{name: "secure, HTTPS down", host: "registry.internal:5000", wantURL: "https://registry.internal:5000/oauth2/exchange", wantErr: "connection refused", httpsDown: true},
		{"ACR", "acme.azurecr.io", "t1", 200, `{"refresh_token":"r"}`, "https://acme.azurecr.io/oauth2/exchange", "", false, false},
		{"loopback", "127.0.0.1:5000", "", 200, `{"refresh_token":"r"}`, "http://127.0.0.1:5000/oauth2/exchange", "", false, false},
		{"localhost", "localhost:5000", "", 200, `{"refresh_token":"r"}`, "http://localhost:5000/oauth2/exchange", "", false, false},
		{"no refresh token", "acme.azurecr.io", "", 200, `{}`, "https://acme.azurecr.io/oauth2/exchange", "the answer has no refresh_token", false, false},
		{"malformed", "acme.azurecr.io", "", 200, `<html>`, "https://acme.azurecr.io/oauth2/exchange", "malformed answer", false, false},
		{"OAuth2 error", "acme.azurecr.io", "", 400, `{"error":"invalid_request","error_description":"tenant mismatch"}`, "https://acme.azurecr.io/oauth2/exchange", "400 Bad Request: tenant mismatch", false, false},
		{"error echoing the token", "acme.azurecr.io", "", 401, `{"errors":[{"message":"bad token ENTRA"}]}`, "https://acme.azurecr.io/oauth2/exchange", "401 Unauthorized", false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			azureEnv(t, map[string]string{"AZURE_TENANT_ID": tc.tenant})
			var gotURL string
			var gotForm url.Values
			a := &azureIdentity{insecure: func(string) bool { return tc.insecure }, rt: roundTripFunc(func(r *http.Request) (*http.Response, error) {
				gotURL = r.URL.String()
				if err := r.ParseForm(); err != nil {
					return nil, err
				}
				gotForm = r.PostForm
				if tc.httpsDown && r.URL.Scheme == "https" {
					return nil, errors.New("connection refused")
				}
				return &http.Response{StatusCode: tc.status, Status: fmt.Sprintf("%d %s", tc.status, http.StatusText(tc.status)),
					Body: io.NopCloser(strings.NewReader(tc.body)), Header: http.Header{}}, nil
			})}
			got, err := a.exchange(context.Background(), tc.host, "ENTRA")
			if gotURL != tc.wantURL {
				t.Errorf("URL %s; want %s", gotURL, tc.wantURL)
			}
			wantForm := url.Values{"grant_type": {"access_token"}, "service": {tc.host}, "access_token": {"ENTRA"}}
			if tc.tenant != "" {
				wantForm.Set("tenant", tc.tenant)
			}
			if diff := cmp.Diff(wantForm, gotForm); diff != "" {
				t.Errorf("form (-want +got):\n%s", diff)
			}
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("exchange: %q, %v; want an error containing %q", got, err, tc.wantErr)
				}
				if strings.Contains(err.Error(), "ENTRA") {
					t.Errorf("error %q shows the access token", err)
				}
				return
			}
			if err != nil || got != "r" {
				t.Errorf("exchange: %q, %v; want r", got, err)
			}
		})
	}
}

// TestACRScope checks that each cloud's registries get the token of its
// own Resource Manager.
func TestACRScope(t *testing.T) {
	for host, want := range map[string]string{
		"acme.azurecr.io": "https://management.azure.com/.default",
		"acme.azurecr.cn": "https://management.chinacloudapi.cn/.default",
		"acme.azurecr.us": "https://management.usgovcloudapi.net/.default",
		"127.0.0.1:5000":  "https://management.azure.com/.default",
	} {
		if got := acrScope(host); got != want {
			t.Errorf("acrScope(%s) = %s; want %s", host, got, want)
		}
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// uniqueID is a client ID no earlier run in this process has used.
func uniqueID(t *testing.T) string {
	t.Helper()
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// staticCredential hands out one Entra ID token.
type staticCredential string

func (c staticCredential) GetToken(context.Context, policy.TokenRequestOptions) (azcore.AccessToken, error) {
	return azcore.AccessToken{Token: string(c)}, nil
}

// jwt is an unsigned token whose payload is claims.
func jwt(claims string) string {
	enc := base64.RawURLEncoding.EncodeToString
	return enc([]byte(`{"alg":"RS256"}`)) + "." + enc([]byte(claims)) + ".c2ln"
}

// TestACRRefreshTokenKept checks that a registry's refresh token is
// reused until shortly before the expiry it states, and that a token
// stating none is exchanged every time.
func TestACRRefreshTokenKept(t *testing.T) {
	for _, tc := range []struct {
		name          string
		refresh       string
		wantExchanges int
	}{
		{"expires in 2100", jwt(`{"exp":4102444800,"grant_type":"refresh_token"}`), 1},
		{"expired in 2001", jwt(`{"exp":1000000000}`), 2},
		{"no exp", jwt(`{"grant_type":"refresh_token"}`), 2},
		{"not a JWT", "opaque", 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			azureEnv(t, nil)
			exchanges := 0
			a := &azureIdentity{cred: staticCredential("ENTRA"), kind: "workload identity", rt: roundTripFunc(func(r *http.Request) (*http.Response, error) {
				exchanges++
				return &http.Response{StatusCode: 200, Status: "200 OK", Header: http.Header{},
					Body: io.NopCloser(strings.NewReader(fmt.Sprintf(`{"refresh_token":%q}`, tc.refresh)))}, nil
			})}
			for range 2 {
				auth, err := a.resolve(context.Background(), "acme.azurecr.io")
				if err != nil {
					t.Fatal(err)
				}
				cfg, err := auth.Authorization()
				if err != nil || cfg.Password != tc.refresh {
					t.Fatalf("credentials %+v, %v; want the refresh token as password", cfg, err)
				}
			}
			if exchanges != tc.wantExchanges {
				t.Errorf("%d exchanges for two resolves; want %d", exchanges, tc.wantExchanges)
			}
			if _, err := a.resolve(context.Background(), "other.azurecr.io"); err != nil {
				t.Fatal(err)
			}
			if exchanges != tc.wantExchanges+1 {
				t.Errorf("another registry used the first one's token")
			}
		})
	}
}

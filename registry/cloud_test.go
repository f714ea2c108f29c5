package registry

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
)

func TestResolveProvider(t *testing.T) {
	tests := []struct {
		host, provider string
		want           string
		wantErr        string
	}{
		{"123456789012.dkr.ecr.eu-west-1.amazonaws.com", "auto", "aws", ""},
		{"123456789012.dkr.ecr-fips.us-east-1.amazonaws.com", "auto", "aws", ""},
		{"123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn", "auto", "aws", ""},
		{"gcr.io", "auto", "gcp", ""},
		{"eu.gcr.io", "auto", "gcp", ""},
		{"europe-west1-docker.pkg.dev", "auto", "gcp", ""},
		{"ghcr.io", "auto", "", "provider auto: ghcr.io is not an ECR"},
		{"dkr.ecr.eu-west-1.amazonaws.com", "auto", "", "is not an ECR"},
		{"registry.example.com", "aws", "aws", ""},
		{"registry.example.com", "", "", ""},
		{"acme.azurecr.io", "azure", "azure", ""},
		{"registry.example.com", "azure", "azure", ""},
		{"acme.azurecr.io", "auto", "azure", ""},
		{"acme.azurecr.cn", "auto", "azure", ""},
		{"acme.azurecr.us", "auto", "azure", ""},
		{"azurecr.io", "auto", "", "is not an ECR"},
		{"acme.azurecr.io.example.com", "auto", "", "is not an ECR"},
		{"registry.example.com", "AWS", "", `provider "AWS": want aws, gcp, azure or auto`},
	}
	for _, tc := range tests {
		t.Run(tc.host+"/"+tc.provider, func(t *testing.T) {
			got, err := resolveProvider(tc.host, tc.provider)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("resolveProvider: %q, %v; want an error containing %q", got, err, tc.wantErr)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Errorf("resolveProvider: %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}

// cloudEnv clears what the cloud SDKs read from the environment and home
// directory, so that only what a test sets is found, and nothing reaches
// for the network: AWS's instance metadata is off.
func cloudEnv(t *testing.T) {
	t.Helper()
	home := t.TempDir()
	for _, k := range []string{
		"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_REGION", "AWS_DEFAULT_REGION",
		"AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
		"AWS_CONTAINER_AUTHORIZATION_TOKEN", "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", "AWS_ENDPOINT_URL",
		"GOOGLE_APPLICATION_CREDENTIALS", "GCE_METADATA_HOST", "GCE_METADATA_IP",
	} {
		t.Setenv(k, "")
		os.Unsetenv(k)
	}
	t.Setenv("HOME", home)
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(home, "no-aws-config"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(home, "no-aws-credentials"))
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	t.Setenv("AWS_ECR_DISABLE_CACHE", "true")
	t.Setenv("CLOUDSDK_CONFIG", filepath.Join(home, "gcloud"))
	t.Setenv("PATH", home) // no gcloud, no credential helpers
}

// resolve returns the credentials the client's keychain gives host, or
// the error.
func resolve(t *testing.T, host string, opts ...Option) (*authn.AuthConfig, error) {
	t.Helper()
	c, err := New(opts...)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	reg, err := name.NewRegistry(host)
	if err != nil {
		t.Fatal(err)
	}
	a, err := c.keychain.Resolve(reg)
	if err != nil {
		return nil, err
	}
	return a.Authorization()
}

// ecrStandIn answers as EKS Pod Identity's credentials endpoint (GET
// /pod-identity, with the token of the token file) and as ECR's API
// (GetAuthorizationToken), and records the access key that signed each
// ECR request.
type ecrStandIn struct {
	mu      sync.Mutex
	signers []string
}

func (s *ecrStandIn) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.Method == http.MethodGet && r.URL.Path == "/pod-identity":
		if r.Header.Get("Authorization") != "pod-identity-token" {
			http.Error(w, "bad token", http.StatusUnauthorized)
			return
		}
		json.NewEncoder(w).Encode(map[string]string{
			"AccessKeyId":     "AKIDPODIDENTITY",
			"SecretAccessKey": "pod-secret",
			"Token":           "pod-session",
			"Expiration":      time.Now().Add(time.Hour).UTC().Format(time.RFC3339),
		})
	case r.Method == http.MethodPost && r.Header.Get("X-Amz-Target") == "" && r.FormValue("Action") == "AssumeRoleWithWebIdentity":
		// STS, for IRSA: the web identity token of the token file for
		// the role's credentials.
		if r.FormValue("WebIdentityToken") != "irsa-token" || r.FormValue("RoleArn") != "arn:aws:iam::123456789012:role/imagebump" {
			http.Error(w, "bad web identity", http.StatusForbidden)
			return
		}
		w.Header().Set("Content-Type", "text/xml")
		fmt.Fprintf(w, `<AssumeRoleWithWebIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><AssumeRoleWithWebIdentityResult><Credentials><AccessKeyId>AKIDIRSA</AccessKeyId><SecretAccessKey>irsa-secret</SecretAccessKey><SessionToken>irsa-session</SessionToken><Expiration>%s</Expiration></Credentials></AssumeRoleWithWebIdentityResult></AssumeRoleWithWebIdentityResponse>`,
			time.Now().Add(time.Hour).UTC().Format(time.RFC3339))
	case r.Method == http.MethodPost && r.Header.Get("X-Amz-Target") == "AmazonEC2ContainerRegistry_V20150921.GetAuthorizationToken":
		io.Copy(io.Discard, r.Body)
		auth := r.Header.Get("Authorization")
		s.mu.Lock()
		if _, rest, ok := strings.Cut(auth, "Credential="); ok {
			key, _, _ := strings.Cut(rest, "/")
			s.signers = append(s.signers, key)
		}
		s.mu.Unlock()
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		fmt.Fprintf(w, `{"authorizationData":[{"authorizationToken":%q,"expiresAt":%d,"proxyEndpoint":"https://123456789012.dkr.ecr.us-east-1.amazonaws.com"}]}`,
			base64.StdEncoding.EncodeToString([]byte("AWS:ecr-password")), time.Now().Add(12*time.Hour).Unix())
	default:
		http.Error(w, "unexpected "+r.Method+" "+r.URL.String(), http.StatusBadRequest)
	}
}

// TestProviderAWS gets an ECR token with the pod's AWS identity, both
// from local stand-ins reached through the AWS SDK's own settings (the
// container credentials URI of EKS Pod Identity; IRSA's role and token
// file with AWS_ENDPOINT_URL_STS; AWS_ENDPOINT_URL_ECR), and reports a
// missing identity as such.
func TestProviderAWS(t *testing.T) {
	const host = "123456789012.dkr.ecr.us-east-1.amazonaws.com"
	for _, tc := range []struct {
		name       string
		identity   string // pod-identity, irsa or ""
		provider   string
		wantSigner string
		wantErr    string
	}{
		{"pod identity, provider aws", "pod-identity", "aws", "AKIDPODIDENTITY", ""},
		{"pod identity, provider auto", "pod-identity", "auto", "AKIDPODIDENTITY", ""},
		{"IRSA", "irsa", "aws", "AKIDIRSA", ""},
		{"no identity", "", "aws", "", "provider aws: no ECR token (is an AWS identity given to the pod"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cloudEnv(t)
			standIn := &ecrStandIn{}
			srv := httptest.NewServer(standIn)
			t.Cleanup(srv.Close)
			t.Setenv("AWS_ENDPOINT_URL_ECR", srv.URL)
			tokenFile := filepath.Join(t.TempDir(), "token")
			switch tc.identity {
			case "pod-identity":
				if err := os.WriteFile(tokenFile, []byte("pod-identity-token"), 0o600); err != nil {
					t.Fatal(err)
				}
				t.Setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", srv.URL+"/pod-identity")
				t.Setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", tokenFile)
			case "irsa":
				if err := os.WriteFile(tokenFile, []byte("irsa-token"), 0o600); err != nil {
					t.Fatal(err)
				}
				t.Setenv("AWS_ROLE_ARN", "arn:aws:iam::123456789012:role/imagebump")
				t.Setenv("AWS_WEB_IDENTITY_TOKEN_FILE", tokenFile)
				t.Setenv("AWS_ENDPOINT_URL_STS", srv.URL)
			}
			got, err := resolve(t, host, WithHosts(Host{Host: host, Provider: tc.provider}))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("got %+v, %v; want an error containing %q", got, err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(&authn.AuthConfig{Username: "AWS", Password: "ecr-password"}, got); diff != "" {
				t.Errorf("credentials (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff([]string{tc.wantSigner}, standIn.signers); diff != "" {
				t.Errorf("ECR requests signed by (-want +got):\n%s", diff)
			}
		})
	}
}

// TestProviderAWSOrder checks that the AWS identity serves only the
// hosts marked with a provider, and that the docker config comes first.
func TestProviderAWSOrder(t *testing.T) {
	const host = "123456789012.dkr.ecr.us-east-1.amazonaws.com"
	cloudEnv(t)
	srv := httptest.NewServer(&ecrStandIn{})
	t.Cleanup(srv.Close)
	t.Setenv("AWS_ENDPOINT_URL_ECR", srv.URL)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config.json")
	auth := base64.StdEncoding.EncodeToString([]byte("docker:from-config"))
	if err := os.WriteFile(cfg, []byte(`{"auths":{"`+host+`":{"auth":"`+auth+`"}}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := resolve(t, host, WithDockerConfig(cfg), WithHosts(Host{Host: host, Provider: "aws"}))
	if err != nil {
		t.Fatal(err)
	}
	if got.Username != "docker" {
		t.Errorf("credentials %+v; want the docker config's, which come before the provider", got)
	}
	got, err = resolve(t, "ghcr.io", WithHosts(Host{Host: host, Provider: "aws"}))
	if err != nil || *got != (authn.AuthConfig{}) {
		t.Errorf("ghcr.io: %+v, %v; want anonymous: the provider serves its host only", got, err)
	}
}

// TestProviderGCP gets an access token from GKE's metadata server
// (Workload Identity), a local stand-in named by GCE_METADATA_HOST, and
// reports a missing identity (the metadata server has no token) as such.
func TestProviderGCP(t *testing.T) {
	for _, tc := range []struct {
		name     string
		identity bool
		provider string
		host     string
		wantErr  string
	}{
		{"workload identity, provider gcp", true, "gcp", "europe-west1-docker.pkg.dev", ""},
		{"workload identity, provider auto", true, "auto", "gcr.io", ""},
		{"no identity", false, "gcp", "europe-west1-docker.pkg.dev", "provider gcp: no Google credentials (is a Google identity given to the pod"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cloudEnv(t)
			var requests int
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				requests++
				if r.Header.Get("Metadata-Flavor") != "Google" {
					http.Error(w, "no Metadata-Flavor", http.StatusForbidden)
					return
				}
				if !tc.identity || !strings.HasPrefix(r.URL.Path, "/computeMetadata/v1/instance/service-accounts/default/token") {
					http.NotFound(w, r)
					return
				}
				w.Header().Set("Content-Type", "application/json")
				fmt.Fprint(w, `{"access_token":"ya29.workload-identity","expires_in":3600,"token_type":"Bearer"}`)
			}))
			t.Cleanup(srv.Close)
			t.Setenv("GCE_METADATA_HOST", strings.TrimPrefix(srv.URL, "http://"))
			got, err := resolve(t, tc.host, WithHosts(Host{Host: tc.host, Provider: tc.provider}))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("got %+v, %v; want an error containing %q", got, err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(&authn.AuthConfig{Username: "_token", Password: "ya29.workload-identity"}, got); diff != "" {
				t.Errorf("credentials (-want +got):\n%s", diff)
			}
			if requests == 0 {
				t.Error("the metadata stand-in saw no request")
			}
		})
	}
}

// TestProviderRefused checks that New refuses a provider it cannot serve,
// naming the host.
func TestProviderRefused(t *testing.T) {
	for _, h := range []Host{{Host: "ghcr.io", Provider: "auto"}, {Host: "ghcr.io", Provider: "ecr"}, {Host: "acme.azurecr.io", Provider: "Azure"}} {
		if _, err := New(WithHosts(h)); err == nil || !strings.Contains(err.Error(), `registry host "`+h.Host+`"`) {
			t.Errorf("New with %+v: %v; want an error naming the host", h, err)
		}
	}
}

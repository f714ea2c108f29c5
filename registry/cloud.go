package registry

import (
	"context"
	"fmt"
	"regexp"
	"strings"

	ecrapi "github.com/awslabs/amazon-ecr-credential-helper/ecr-login/api"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/v1/google"
)

// Cloud providers whose workload identity a Host can use
// (Host.Provider).
const (
	// ProviderAWS is Amazon ECR through amazon-ecr-credential-helper's
	// library: the AWS SDK's default credentials (IRSA's web identity,
	// EKS Pod Identity, instance roles, environment, profiles) exchanged
	// for an ECR token.
	ProviderAWS = "aws"
	// ProviderGCP is Artifact Registry and Container Registry through
	// go-containerregistry's google package: Application Default
	// Credentials (GKE Workload Identity through the metadata server, a
	// credentials file) as an OAuth2 access token.
	ProviderGCP = "gcp"
	// ProviderAzure is Azure Container Registry through azidentity: AKS
	// workload identity (the federated token file and client and tenant
	// IDs the webhook injects), else managed identity; the Entra ID token
	// is exchanged at the registry for an ACR refresh token.
	ProviderAzure = "azure"
	// ProviderAuto picks the provider by the host's name: ECR's
	// ACCOUNT.dkr.ecr.REGION.amazonaws.com, gcr.io and *.gcr.io,
	// *-docker.pkg.dev, *.azurecr.io, *.azurecr.cn, *.azurecr.us.
	ProviderAuto = "auto"
)

// ecrHost is the host pattern of ECR registries (amazon-ecr-credential-
// helper's own, less the FIPS and China details it handles itself).
var ecrHost = regexp.MustCompile(`^[0-9]{12}\.dkr\.ecr(-fips)?\.[a-z0-9-]+\.amazonaws\.com(\.cn)?$`)

// providerFor is the provider that serves host under "auto", or "".
func providerFor(host string) string {
	switch {
	case ecrHost.MatchString(host):
		return ProviderAWS
	case host == "gcr.io" || strings.HasSuffix(host, ".gcr.io") || strings.HasSuffix(host, "-docker.pkg.dev"):
		return ProviderGCP
	case isACR(host):
		return ProviderAzure
	}
	return ""
}

// resolveProvider checks a Host's provider and resolves "auto".
func resolveProvider(host, provider string) (string, error) {
	switch provider {
	case "", ProviderAWS, ProviderGCP, ProviderAzure:
		return provider, nil
	case ProviderAuto:
		p := providerFor(host)
		if p == "" {
			return "", fmt.Errorf("provider auto: %s is not an ECR (ACCOUNT.dkr.ecr.REGION.amazonaws.com), Google (gcr.io, *-docker.pkg.dev) or Azure (*.azurecr.io, .cn, .us) registry; name the provider", host)
		}
		return p, nil
	}
	return "", fmt.Errorf("provider %q: want aws, gcp, azure or auto", provider)
}

// cloudKeychain serves the registries whose Host names a provider with
// the provider's workload identity. It answers Anonymous for the others.
type cloudKeychain struct {
	providers map[string]string // registry → aws | gcp | azure
	ecr       ecrapi.ClientFactory
	azure     *azureIdentity
}

func (k cloudKeychain) Resolve(r authn.Resource) (authn.Authenticator, error) {
	return k.ResolveContext(context.Background(), r)
}

func (k cloudKeychain) ResolveContext(ctx context.Context, r authn.Resource) (authn.Authenticator, error) {
	host := r.RegistryStr()
	switch k.providers[host] {
	case ProviderAWS:
		return k.resolveECR(ctx, host)
	case ProviderGCP:
		return resolveGoogle(ctx, host)
	case ProviderAzure:
		return k.azure.resolve(ctx, host)
	}
	return authn.Anonymous, nil
}

func (k cloudKeychain) resolveECR(ctx context.Context, host string) (authn.Authenticator, error) {
	reg, err := ecrapi.ExtractRegistry(host)
	if err != nil {
		return nil, fmt.Errorf("registry %s, provider aws: %w", host, err)
	}
	factory := k.ecr
	if factory == nil {
		factory = ecrapi.DefaultClientFactory{}
	}
	var client ecrapi.Client
	if reg.FIPS {
		client, err = factory.NewClientWithFipsEndpoint(ctx, reg.Region)
	} else {
		client, err = factory.NewClientFromRegion(ctx, reg.Region)
	}
	if err != nil {
		return nil, fmt.Errorf("registry %s, provider aws: %w", host, err)
	}
	auth, err := client.GetCredentials(ctx, host)
	if err != nil {
		return nil, fmt.Errorf("registry %s, provider aws: no ECR token (is an AWS identity given to the pod: IRSA, EKS Pod Identity, an instance role?): %w", host, err)
	}
	return sourcedAuth{
		Authenticator: &authn.Basic{Username: auth.Username, Password: auth.Password},
		src:           "the AWS identity (provider aws) for " + host,
	}, nil
}

func resolveGoogle(ctx context.Context, host string) (authn.Authenticator, error) {
	// NewEnvAuthenticator fetches a first token: a missing identity is
	// reported here, not as a 401 from the registry.
	a, err := google.NewEnvAuthenticator(ctx)
	if err != nil {
		return nil, fmt.Errorf("registry %s, provider gcp: no Google credentials (is a Google identity given to the pod: GKE Workload Identity, GOOGLE_APPLICATION_CREDENTIALS?): %w", host, err)
	}
	return sourcedAuth{Authenticator: a, src: "the Google identity (provider gcp) for " + host}, nil
}

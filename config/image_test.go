package config

import "testing"

func TestCheckImage(t *testing.T) {
	tests := []struct {
		ref, wantErr string
	}{
		{"ghcr.io/acme/web", ""},
		{"localhost:5000/acme/api", ""},
		{"localhost/web", ""},
		{"127.0.0.1:5000/a/b/c", ""},
		{"[::1]:5000/acme/web", ""},
		{"docker.io/library/nginx", ""},
		{"docker.io/acme/web", ""},
		{"registry.internal/a.b_c__d---e/f", ""},
		{"ghcr.io/Acme/Web", `"ghcr.io/Acme/Web" is not a valid repository: repository can only contain the characters ` + "`abcdefghijklmnopqrstuvwxyz0123456789_-./`" + `: Acme/Web`},
		{"INVALID//name", `"INVALID//name" is not a repository REGISTRY/PATH such as ghcr.io/acme/web`},
		{"ghcr.io/acme//web", `"ghcr.io/acme//web" has an empty path component`},
		{"ghcr.io/acme/web/", `"ghcr.io/acme/web/" has an empty path component`},
		{"ghcr.io/-acme/web", `"ghcr.io/-acme/web": path component "-acme" must be lower-case letters and digits, separated by '.', '_', '__' or '-'`},
		{"ghcr.io/acme/web.", `"ghcr.io/acme/web.": path component "web." must be lower-case letters and digits, separated by '.', '_', '__' or '-'`},
		{"ghcr.io/a___b", `"ghcr.io/a___b": path component "a___b" must be lower-case letters and digits, separated by '.', '_', '__' or '-'`},
		{"http://x/y", `"http://x/y" must be a repository such as ghcr.io/acme/web, without a URL scheme`},
		{"http:/x/y", `"http:/x/y": registry "http:" must have a port from 1 to 65535`},
		{"/srv/web", `"/srv/web" is not a repository REGISTRY/PATH such as ghcr.io/acme/web`},
		{"acme/web", ""},
		{"nginx", ""},
		{"docker.io/nginx", ""},
		{"ghcr/acme/web", `"ghcr/acme/web" is not a repository REGISTRY/PATH such as ghcr.io/acme/web`},
		{"Nginx", `"Nginx" is not a repository REGISTRY/PATH such as ghcr.io/acme/web`},
		{"ghcr.io/acme/web:1.0", `"ghcr.io/acme/web:1.0" must be a repository without tag or digest`},
		{"ghcr.io/acme/web@sha256:" + "0123456789012345678901234567890123456789012345678901234567890123", `"ghcr.io/acme/web@sha256:0123456789012345678901234567890123456789012345678901234567890123" must be a repository without tag or digest`},
		{"ghcr.io/acme/web latest", `"ghcr.io/acme/web latest" must be a repository without tag or digest`},
		{"ghcr.io:0/acme/web", `"ghcr.io:0/acme/web": registry "ghcr.io:0" must have a port from 1 to 65535`},
		{"ghcr.io:99999/acme/web", `"ghcr.io:99999/acme/web": registry "ghcr.io:99999" must have a port from 1 to 65535`},
		{"gh_cr.io/acme/web", `"gh_cr.io/acme/web": registry "gh_cr.io" is not a host[:port]`},
		{"-ghcr.io/acme/web", `"-ghcr.io/acme/web": registry "-ghcr.io" is not a host[:port]`},
		{"[1.2.3.4]:5000/acme/web", `"[1.2.3.4]:5000/acme/web" is not a valid repository: registries must be valid RFC 3986 URI authorities: [1.2.3.4]:5000`},
		{"[::1/acme/web", `"[::1/acme/web" is not a valid repository: registries must be valid RFC 3986 URI authorities: [::1`},
		{"", "is required"},
	}
	for _, tc := range tests {
		t.Run(tc.ref, func(t *testing.T) {
			err := CheckImage(tc.ref)
			var got string
			if err != nil {
				got = err.Error()
			}
			if got != tc.wantErr {
				t.Errorf("CheckImage(%q) = %q, want %q", tc.ref, got, tc.wantErr)
			}
		})
	}
}

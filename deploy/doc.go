// Package deploy holds no code: it is the home of the test that builds the
// Kubernetes manifests under kubernetes/ with kustomize and checks them
// against the bot config they ship (kustomize_test.go).
package deploy

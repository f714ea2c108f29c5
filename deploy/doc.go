// Package deploy holds no code: it is the home of the tests of what ships
// for deployment, the Kubernetes manifests under kubernetes/ (built with
// kustomize and checked against the bot config they carry) and the
// Dockerfile's promises the manifests rely on.
package deploy

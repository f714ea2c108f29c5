// Package deploy holds no code: it is the home of the tests of what ships
// for deployment, the Kubernetes manifests under kubernetes/ (the base, the
// CronJob and the optional monitoring and networkpolicy components, built
// with kustomize and checked against the bot config they carry), the
// Dockerfile's promises the manifests rely on, and the GitHub workflows'
// use of the Makefile. The release image itself is assembled by the
// program in imagebuild/ (make image).
package deploy

// Command check is make deploy-check: it builds every overlay of deploy/
// with the Kustomize library, decodes each object strictly into its
// Kubernetes type (unknown fields fail), and checks the manifests against
// the binary and the topology they deploy.
package main

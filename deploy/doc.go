// Package deploy holds what an operator installs: systemd units, the
// brokers' configuration, Grafana's provisioning, the container images,
// compose and Kubernetes files (docs/deploy.md). It has no code; its tests
// hold the Kubernetes manifests together (kubernetes_test.go).
package deploy

// Command kind-config-check decodes kind cluster configs the way kind itself does (sigs.k8s.io/yaml strict
// decoding into kind's public v1alpha4 types, at the kind version pinned in versions.env), so a misspelt or
// misplaced field fails in CI instead of being silently ignored on a user's machine. Usage:
//
//	go run ./hack/tools/kind-config-check k8s/kind/cluster.yaml
package main

import (
	"fmt"
	"os"

	"sigs.k8s.io/kind/pkg/apis/config/v1alpha4"
	"sigs.k8s.io/yaml"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: kind-config-check <kind config>...")
		os.Exit(2)
	}
	failed := false
	for _, path := range os.Args[1:] {
		if err := check(path); err != nil {
			fmt.Fprintf(os.Stderr, "%s: %v\n", path, err)
			failed = true
			continue
		}
		fmt.Printf("%s: ok\n", path)
	}
	if failed {
		os.Exit(1)
	}
}

func check(path string) error {
	raw, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var meta v1alpha4.TypeMeta
	if err := yaml.Unmarshal(raw, &meta); err != nil {
		return fmt.Errorf("not YAML: %w", err)
	}
	if meta.Kind != "Cluster" || meta.APIVersion != "kind.x-k8s.io/v1alpha4" {
		return fmt.Errorf("kind/apiVersion must be Cluster/kind.x-k8s.io/v1alpha4, got %q/%q", meta.Kind, meta.APIVersion)
	}
	var cfg v1alpha4.Cluster
	if err := yaml.UnmarshalStrict(raw, &cfg); err != nil {
		return fmt.Errorf("kind would refuse it: %w", err)
	}
	v1alpha4.SetDefaultsCluster(&cfg)
	for i, n := range cfg.Nodes {
		if n.Role != v1alpha4.ControlPlaneRole && n.Role != v1alpha4.WorkerRole {
			return fmt.Errorf("nodes[%d]: role %q is neither control-plane nor worker", i, n.Role)
		}
		for j, m := range n.ExtraPortMappings {
			if m.ContainerPort <= 0 || m.HostPort < 0 || m.HostPort > 65535 {
				return fmt.Errorf("nodes[%d].extraPortMappings[%d]: bad ports %d -> %d", i, j, m.ContainerPort, m.HostPort)
			}
		}
	}
	return nil
}

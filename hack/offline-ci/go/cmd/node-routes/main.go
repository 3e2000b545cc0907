// Command node-routes is the offline kind node image's pod network, in place of kindnetd (whose module the Go
// proxy does not serve and whose image cannot be pulled here). It does what kindnetd's datapath does and no
// more: on its node, it writes a ptp + host-local + portmap CNI config for the node's spec.podCIDR, and it
// routes every other node's pod CIDR via that node's InternalIP. No overlay, no masquerading (nothing leaves
// the cluster). NetworkPolicies are kube-router's job (the same manifest runs its firewall).
//
// It runs as a hostNetwork DaemonSet with NET_ADMIN, talks to the API server with its ServiceAccount token
// (at CONTROL_PLANE_ENDPOINT, which kind adds to the manifest, so it needs no kube-proxy), and calls `ip`.
package main

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"time"
)

const serviceAccount = "/var/run/secrets/kubernetes.io/serviceaccount"

type node struct {
	Metadata struct {
		Name string `json:"name"`
	} `json:"metadata"`
	Spec struct {
		PodCIDR string `json:"podCIDR"`
	} `json:"spec"`
	Status struct {
		Addresses []struct {
			Type    string `json:"type"`
			Address string `json:"address"`
		} `json:"addresses"`
	} `json:"status"`
}

func (n node) internalIP() string {
	for _, a := range n.Status.Addresses {
		if a.Type == "InternalIP" && net.ParseIP(a.Address).To4() != nil {
			return a.Address
		}
	}
	return ""
}

// conflist is kindnetd's own CNI config, for one node's pod CIDR.
func conflist(podCIDR string) []byte {
	out, _ := json.MarshalIndent(map[string]any{
		"cniVersion": "0.4.0",
		"name":       "kindnet",
		"plugins": []any{
			map[string]any{
				"type":   "ptp",
				"ipMasq": false,
				"mtu":    1500,
				"ipam": map[string]any{
					"type":    "host-local",
					"dataDir": "/run/cni-ipam-state",
					"routes":  []any{map[string]string{"dst": "0.0.0.0/0"}},
					"ranges":  []any{[]any{map[string]string{"subnet": podCIDR}}},
				},
			},
			map[string]any{"type": "portmap", "capabilities": map[string]bool{"portMappings": true}},
		},
	}, "", "  ")
	return append(out, '\n')
}

func client() (*http.Client, string, string, error) {
	token, err := os.ReadFile(filepath.Join(serviceAccount, "token"))
	if err != nil {
		return nil, "", "", err
	}
	ca, err := os.ReadFile(filepath.Join(serviceAccount, "ca.crt"))
	if err != nil {
		return nil, "", "", err
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca)
	host := os.Getenv("CONTROL_PLANE_ENDPOINT")
	if host == "" {
		host = net.JoinHostPort(os.Getenv("KUBERNETES_SERVICE_HOST"), os.Getenv("KUBERNETES_SERVICE_PORT"))
	}
	c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	return c, "https://" + host, string(bytes.TrimSpace(token)), nil
}

func listNodes(c *http.Client, server, token string) ([]node, error) {
	req, _ := http.NewRequest(http.MethodGet, server+"/api/v1/nodes", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := c.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET /api/v1/nodes: %s", res.Status)
	}
	var list struct {
		Items []node `json:"items"`
	}
	return list.Items, json.NewDecoder(res.Body).Decode(&list)
}

// writeIfChanged replaces path atomically, so the kubelet never reads half a config.
func writeIfChanged(path string, content []byte) (bool, error) {
	if old, err := os.ReadFile(path); err == nil && bytes.Equal(old, content) {
		return false, nil
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, content, 0o644); err != nil {
		return false, err
	}
	return true, os.Rename(tmp, path)
}

func reconcile(nodes []node, self, confPath string, routed map[string]string) error {
	for _, n := range nodes {
		if n.Spec.PodCIDR == "" {
			continue
		}
		if n.Metadata.Name == self {
			changed, err := writeIfChanged(confPath, conflist(n.Spec.PodCIDR))
			if err != nil {
				return err
			}
			if changed {
				log.Printf("wrote %s for pod CIDR %s", confPath, n.Spec.PodCIDR)
			}
			continue
		}
		via := n.internalIP()
		if via == "" || routed[n.Spec.PodCIDR] == via {
			continue
		}
		if out, err := exec.Command("ip", "route", "replace", n.Spec.PodCIDR, "via", via).CombinedOutput(); err != nil {
			return fmt.Errorf("ip route replace %s via %s: %v: %s", n.Spec.PodCIDR, via, err, out)
		}
		routed[n.Spec.PodCIDR] = via
		log.Printf("route %s via %s (node %s)", n.Spec.PodCIDR, via, n.Metadata.Name)
	}
	return nil
}

func main() {
	self := os.Getenv("NODE_NAME")
	if self == "" {
		log.Fatal("NODE_NAME is not set (the DaemonSet passes spec.nodeName)")
	}
	confPath := filepath.Join(envOr("CNI_CONFIG_DIR", "/etc/cni/net.d"), "10-kindnet.conflist")
	c, server, token, err := client()
	if err != nil {
		log.Fatalf("no ServiceAccount credentials: %v", err)
	}
	routed := map[string]string{}
	for {
		nodes, err := listNodes(c, server, token)
		if err == nil {
			err = reconcile(nodes, self, confPath, routed)
		}
		if err != nil {
			log.Print(err)
		}
		time.Sleep(5 * time.Second)
	}
}

func envOr(name, fallback string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return fallback
}

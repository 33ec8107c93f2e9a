package main

import (
	"strings"
	"testing"

	"github.com/gossipod/gossipod/api"
	"github.com/gossipod/gossipod/consensus"
)

// describe of a ConfigMap shows its data, of a Secret only the sizes of
// its values, and of a kind without a describer of its own every field,
// labelled as kubectl's generic describer labels them.
func TestDescribeConfigMapSecretAndAnyKind(t *testing.T) {
	f := newTestServer(t)
	cm := api.ConfigMap{ObjectMeta: api.ObjectMeta{Namespace: "default", Name: "app-config", UID: "cm-1", Labels: map[string]string{"app": "web"}},
		Data:       map[string]string{"mode": "production", "server.conf": "listen 80\nroot /srv"},
		BinaryData: map[string][]byte{"logo.png": {1, 2, 3, 4}}}
	f.commit(consensus.CmdCreateConfigMap, consensus.CreateConfigMap{ConfigMap: cm}, nil)
	secret := api.Secret{ObjectMeta: api.ObjectMeta{Namespace: "default", Name: "db-credentials", UID: "secret-1"},
		Type: api.SecretTypeOpaque, Data: map[string][]byte{"password": []byte("s3cr3t-marker"), "username": []byte("admin")}}
	f.commit(consensus.CmdCreateSecret, consensus.CreateSecret{Secret: secret}, nil)

	for _, tc := range []struct {
		args      []string
		lines     []string // whitespace-normalised lines that must appear
		forbidden []string // substrings that must not
	}{
		{
			args: []string{"describe", "configmap", "app-config"},
			lines: []string{"Name: app-config", "Namespace: default", "Labels: app=web", "Data", "====",
				"mode:", "----", "production", "server.conf:", "listen 80", "root /srv", "BinaryData", "logo.png: 4 bytes", "Events: <none>"},
		},
		{
			args:      []string{"describe", "secret", "db-credentials"},
			lines:     []string{"Name: db-credentials", "Type: Opaque", "Data", "====", "password: 13 bytes", "username: 5 bytes"},
			forbidden: []string{"s3cr3t-marker", "admin", "czNjcjN0"},
		},
		{
			// Namespaces have no describer here: kubectl's generic one.
			args: []string{"describe", "ns", "default"},
			lines: []string{"Name: default", "Namespace:", "API Version: v1",
				"Kind: Namespace", "Metadata:", "Spec:", "Finalizers:", "kubernetes", "Status:", "Phase: Active"},
			forbidden: []string{"Managed Fields"},
		},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			out, errOut, err := f.run("", tc.args...)
			if err != nil {
				t.Fatalf("%v: %v (stderr %q)", tc.args, err, errOut)
			}
			for _, l := range tc.lines {
				if !hasLine(out, l) {
					t.Errorf("no line %q in\n%s", l, out)
				}
			}
			for _, s := range tc.forbidden {
				if strings.Contains(out, s) {
					t.Errorf("%q printed:\n%s", s, out)
				}
			}
		})
	}
}

func TestSmartLabel(t *testing.T) {
	for in, want := range map[string]string{
		"apiVersion":        "API Version",
		"creationTimestamp": "Creation Timestamp",
		"uid":               "UID",
		"podIP":             "Pod IP",
		"httpGet":           "Http Get",
		"HTTPGet":           "HTTP Get",
		"kind":              "Kind",
		"node-role":         "Node-role",
		"ipv4":              "ipv4",
		"a.b":               "a.b",
	} {
		if got := smartLabel(in); got != want {
			t.Errorf("smartLabel(%q) = %q, want %q", in, got, want)
		}
	}
}

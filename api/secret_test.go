package api

import (
	"strings"
	"testing"
)

func TestSetSecretDefaults(t *testing.T) {
	s := &Secret{ObjectMeta: ObjectMeta{Name: "db"}, Data: map[string][]byte{"user": []byte("old"), "host": []byte("h")},
		StringData: map[string]string{"user": "admin"}}
	SetSecretDefaults(s)
	if s.Namespace != DefaultNamespace || s.Type != SecretTypeOpaque || s.StringData != nil ||
		string(s.Data["user"]) != "admin" || string(s.Data["host"]) != "h" {
		t.Fatalf("defaulted %+v, want namespace default, type Opaque, stringData merged over data and dropped", s)
	}
}

func TestValidateSecret(t *testing.T) {
	secret := func(typ SecretType, data map[string]string) *Secret {
		s := &Secret{ObjectMeta: ObjectMeta{Name: "s", Namespace: "default"}, Type: typ, Data: map[string][]byte{}}
		for k, v := range data {
			s.Data[k] = []byte(v)
		}
		return s
	}
	tests := []struct {
		name   string
		s      *Secret
		fields []string
		msg    string
	}{
		{"opaque", secret(SecretTypeOpaque, map[string]string{"a": "1"}), nil, ""},
		{"a type gossipod does not know", secret("example.com/custom", nil), nil, ""},
		{"tls", secret(SecretTypeTLS, map[string]string{"tls.crt": "c", "tls.key": "k"}), nil, ""},
		{"tls without a key", secret(SecretTypeTLS, map[string]string{"tls.crt": "c"}), []string{"data[tls.key]"}, "Required value"},
		{"dockerconfigjson", secret(SecretTypeDockerConfigJSON, map[string]string{".dockerconfigjson": `{"auths":{}}`}), nil, ""},
		{"dockerconfigjson not an object", secret(SecretTypeDockerConfigJSON, map[string]string{".dockerconfigjson": `[1]`}),
			[]string{"data[.dockerconfigjson]"}, `Invalid value: "<secret contents redacted>": json: cannot unmarshal array`},
		{"dockercfg missing", secret(SecretTypeDockercfg, nil), []string{"data[.dockercfg]"}, "Required value"},
		{"basic-auth with a username only", secret(SecretTypeBasicAuth, map[string]string{"username": ""}), nil, ""},
		{"basic-auth with neither", secret(SecretTypeBasicAuth, nil), []string{"data[username]", "data[password]"}, "Required value"},
		{"ssh-auth with an empty key", secret(SecretTypeSSHAuth, map[string]string{"ssh-privatekey": ""}), []string{"data[ssh-privatekey]"}, "Required value"},
		{"service-account-token without its account", secret(SecretTypeServiceAccountToken, nil),
			[]string{"metadata.annotations[kubernetes.io/service-account.name]"}, "Required value"},
		{"invalid key", secret(SecretTypeOpaque, map[string]string{"a:b": "1"}), []string{"data[a:b]"}, "a valid config key"},
		{"over 1 MiB", secret(SecretTypeOpaque, map[string]string{"a": strings.Repeat("x", 1<<19), "b": strings.Repeat("x", 1<<19+1)}),
			[]string{"data"}, "data: Too long: may not be more than 1048576 bytes"},
		{"stringData not merged", &Secret{ObjectMeta: ObjectMeta{Name: "s", Namespace: "default"}, StringData: map[string]string{"a": "b"}},
			[]string{"stringData"}, "Forbidden"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := ValidateSecret(tt.s)
			if tt.fields == nil {
				if err != nil {
					t.Fatalf("ValidateSecret: %v, want nil", err)
				}
				return
			}
			fields, msg := invalidFields(t, err)
			if strings.Join(fields, ",") != strings.Join(tt.fields, ",") || !strings.Contains(msg, tt.msg) {
				t.Errorf("fields %q message %q, want %q with %q", fields, msg, tt.fields, tt.msg)
			}
			for _, v := range tt.s.Data {
				if len(v) > 3 && strings.Contains(msg, string(v)) {
					t.Errorf("message %q echoes a secret value", msg)
				}
			}
		})
	}
}

func TestValidateSecretUpdate(t *testing.T) {
	yes := true
	old := &Secret{ObjectMeta: ObjectMeta{Name: "s", Namespace: "default", UID: "u"}, Type: SecretTypeOpaque,
		Data: map[string][]byte{"a": []byte("1")}, Immutable: &yes}
	tests := []struct {
		name   string
		change func(*Secret)
		fields []string
	}{
		{"labels of an immutable one", func(s *Secret) { s.Labels = map[string]string{"x": "y"} }, nil},
		{"type", func(s *Secret) { s.Type = "example.com/other" }, []string{"type"}},
		{"data of an immutable one", func(s *Secret) { s.Data["a"] = []byte("2") }, []string{"data"}},
		{"immutable unset", func(s *Secret) { s.Immutable = nil }, []string{"immutable"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			upd := old.DeepCopy()
			tt.change(upd)
			err := ValidateSecretUpdate(old, upd)
			if tt.fields == nil {
				if err != nil {
					t.Fatalf("ValidateSecretUpdate: %v, want nil", err)
				}
				return
			}
			fields, _ := invalidFields(t, err)
			if strings.Join(fields, ",") != strings.Join(tt.fields, ",") {
				t.Errorf("fields %q, want %q", fields, tt.fields)
			}
		})
	}
}

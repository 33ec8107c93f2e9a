package api

import (
	"errors"
	"strings"
	"testing"
)

// invalidFields returns the fields of a 422's causes, with its message,
// or fails the test when err is not one.
func invalidFields(t *testing.T, err error) ([]string, string) {
	t.Helper()
	var st *Status
	if !errors.As(err, &st) || st.Code != 422 || st.Details == nil {
		t.Fatalf("err = %v, want a 422 Invalid Status", err)
	}
	var fields []string
	for _, c := range st.Details.Causes {
		fields = append(fields, c.Field)
	}
	return fields, st.Message
}

func TestValidateConfigMap(t *testing.T) {
	valid := func() *ConfigMap {
		return &ConfigMap{ObjectMeta: ObjectMeta{Name: "app-config", Namespace: "default"},
			Data:       map[string]string{"app.properties": "a=b", "LOG_LEVEL": "debug", "key_1-x": ""},
			BinaryData: map[string][]byte{"logo.png": {0x89, 'P', 'N', 'G'}}}
	}
	tests := []struct {
		name   string
		change func(*ConfigMap)
		fields []string
		msg    string // in the 422's message
	}{
		{"valid", func(*ConfigMap) {}, nil, ""},
		{"no data at all", func(c *ConfigMap) { c.Data, c.BinaryData = nil, nil }, nil, ""},
		{"exactly 1 MiB", func(c *ConfigMap) {
			c.BinaryData = nil
			c.Data = map[string]string{"a": strings.Repeat("x", 1<<20-4), "b": "abcd"}
		}, nil, ""},
		{"key with a slash", func(c *ConfigMap) { c.Data["conf/app"] = "x" }, []string{"data[conf/app]"},
			`data[conf/app]: Invalid value: "conf/app": a valid config key must consist of alphanumeric characters, '-', '_' or '.'`},
		{"key .", func(c *ConfigMap) { c.Data["."] = "x" }, []string{"data[.]"}, `must not be '.'`},
		{"key ..", func(c *ConfigMap) { c.BinaryData[".."] = nil }, []string{"binaryData[..]"}, `must not be '..'`},
		{"key starting with ..", func(c *ConfigMap) { c.Data["..data"] = "x" }, []string{"data[..data]"}, `must not start with '..'`},
		{"key too long", func(c *ConfigMap) { c.Data[strings.Repeat("k", 254)] = "x" }, []string{"data[" + strings.Repeat("k", 254) + "]"},
			"must be no more than 253 characters"},
		{"key in data and binaryData", func(c *ConfigMap) { c.BinaryData["LOG_LEVEL"] = []byte("x") }, []string{"data[LOG_LEVEL]"},
			`data[LOG_LEVEL]: Invalid value: "LOG_LEVEL": duplicate of key present in binaryData`},
		{"over 1 MiB across data and binaryData", func(c *ConfigMap) {
			c.Data = map[string]string{"a": strings.Repeat("x", 1<<20-2)}
			c.BinaryData = map[string][]byte{"b": []byte("xyz")}
		}, []string{"[]"}, `[]: Too long: may not be more than 1048576 bytes`},
		{"bad name", func(c *ConfigMap) { c.Name = "App_Config" }, []string{"metadata.name"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cm := valid()
			tt.change(cm)
			err := ValidateConfigMap(cm)
			if tt.fields == nil {
				if err != nil {
					t.Fatalf("ValidateConfigMap: %v, want nil", err)
				}
				return
			}
			fields, msg := invalidFields(t, err)
			if strings.Join(fields, ",") != strings.Join(tt.fields, ",") {
				t.Errorf("fields %q, want %q (%s)", fields, tt.fields, msg)
			}
			if !strings.Contains(msg, tt.msg) || !strings.HasPrefix(msg, `ConfigMap "`+cm.Name+`" is invalid: `) {
				t.Errorf("message %q, want it to contain %q", msg, tt.msg)
			}
		})
	}
}

func TestValidateConfigMapUpdate(t *testing.T) {
	yes, no := true, false
	stored := func(imm *bool) *ConfigMap {
		return &ConfigMap{ObjectMeta: ObjectMeta{Name: "cfg", Namespace: "default", UID: "u1"},
			Data: map[string]string{"a": "1"}, BinaryData: map[string][]byte{"b": {1}}, Immutable: imm}
	}
	tests := []struct {
		name   string
		old    *bool
		change func(*ConfigMap)
		fields []string
	}{
		{"mutable: data changes", nil, func(c *ConfigMap) { c.Data["a"] = "2"; c.BinaryData = nil }, nil},
		{"mutable: becomes immutable", &no, func(c *ConfigMap) { c.Immutable = &yes }, nil},
		{"immutable: labels change", &yes, func(c *ConfigMap) { c.Labels = map[string]string{"x": "y"} }, nil},
		{"immutable: data changes", &yes, func(c *ConfigMap) { c.Data["a"] = "2" }, []string{"data"}},
		{"immutable: binaryData changes", &yes, func(c *ConfigMap) { c.BinaryData["c"] = []byte{2} }, []string{"binaryData"}},
		{"immutable: unset", &yes, func(c *ConfigMap) { c.Immutable = nil }, []string{"immutable"}},
		{"immutable: set to false with new data", &yes, func(c *ConfigMap) { c.Immutable = &no; c.Data = nil }, []string{"immutable", "data"}},
		{"name changes", nil, func(c *ConfigMap) { c.Name = "other" }, []string{"metadata.name"}},
		{"new data invalid", nil, func(c *ConfigMap) { c.Data["a/b"] = "x" }, []string{"data[a/b]"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			old := stored(tt.old)
			upd := old.DeepCopy()
			tt.change(upd)
			err := ValidateConfigMapUpdate(old, upd)
			if tt.fields == nil {
				if err != nil {
					t.Fatalf("ValidateConfigMapUpdate: %v, want nil", err)
				}
				return
			}
			fields, msg := invalidFields(t, err)
			if strings.Join(fields, ",") != strings.Join(tt.fields, ",") {
				t.Errorf("fields %q, want %q (%s)", fields, tt.fields, msg)
			}
			if tt.fields[0] != "metadata.name" && !strings.Contains(msg, "field is immutable when `immutable` is set") && !strings.Contains(msg, "config key") {
				t.Errorf("message %q lacks kube-apiserver's words", msg)
			}
		})
	}
}

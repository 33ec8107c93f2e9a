package consensus

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/gossipod/gossipod/api"
)

func testSecret(ns, name string, typ corev1.SecretType, data map[string]string) api.Secret {
	sec := api.Secret{ObjectMeta: api.ObjectMeta{Name: name, Namespace: ns, UID: types.UID("uid-" + name)}, Type: typ}
	for k, v := range data {
		if sec.Data == nil {
			sec.Data = map[string][]byte{}
		}
		sec.Data[k] = []byte(v)
	}
	return sec
}

func TestSealer(t *testing.T) {
	s, err := newSealer("key1", testSecretsKey)
	if err != nil {
		t.Fatal(err)
	}
	aad := secretAAD("default", "db")
	a, b := s.seal([]byte("hunter2"), aad), s.seal([]byte("hunter2"), aad)
	if !bytes.HasPrefix(a, []byte("k8s:enc:aesgcm:v1:key1:")) {
		t.Fatalf("sealed value %q lacks the aesgcm provider's prefix", a)
	}
	if bytes.Equal(a, b) || bytes.Contains(a, []byte("hunter2")) {
		t.Fatalf("two seals of one value: %x and %x, want fresh nonces and no plaintext", a, b)
	}
	if got, err := s.open(a, aad); err != nil || string(got) != "hunter2" {
		t.Fatalf("open = %q, %v", got, err)
	}
	other, _ := newSealer("key2", bytes.Repeat([]byte{7}, SecretsKeySize))
	sameNameOtherKey, _ := newSealer("key1", bytes.Repeat([]byte{7}, SecretsKeySize))
	tampered := bytes.Clone(a)
	tampered[len(tampered)-1] ^= 1
	tests := []struct {
		name    string
		s       *sealer
		value   []byte
		aad     []byte
		wantErr string
	}{
		{"another key's name", other, a, aad, `sealed with key "key1", this cluster has "key2"`},
		{"another key of the same name", sameNameOtherKey, a, aad, "message authentication failed"},
		{"tampered", s, tampered, aad, "message authentication failed"},
		{"moved to another secret", s, a, secretAAD("default", "other"), "message authentication failed"},
		{"not sealed", s, []byte("hunter2"), aad, "not sealed"},
		{"truncated", s, a[:30], aad, "too short"},
	}
	for _, tt := range tests {
		if _, err := tt.s.open(tt.value, tt.aad); err == nil || !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("%s: err %v, want %q", tt.name, err, tt.wantErr)
		}
	}
}

// TestSecretCommandsValidatedByTheFSM: the state machine merges
// stringData, checks each type's keys, keeps the type and an immutable
// Secret's data, in kube-apiserver's words, whatever the proposer checked.
func TestSecretCommandsValidatedByTheFSM(t *testing.T) {
	m := newServiceStore(t, "")
	ctx := context.Background()
	yes := true
	withStringData := testSecret("default", "db", "", map[string]string{"user": "old", "host": "h"})
	withStringData.StringData = map[string]string{"user": "admin", "password": "s3cret"}
	immutable := testSecret("default", "db", api.SecretTypeOpaque, map[string]string{"user": "admin", "host": "h", "password": "s3cret"})
	immutable.Immutable = &yes
	tests := []struct {
		name     string
		cmd      CommandType
		payload  any
		wantCode int
		wantMsg  string
	}{
		{"opaque with stringData", CmdCreateSecret, CreateSecret{Secret: withStringData}, 0, ""},
		{"tls without its keys", CmdCreateSecret, CreateSecret{Secret: testSecret("default", "cert", api.SecretTypeTLS, nil)},
			http.StatusUnprocessableEntity, `[data[tls.crt]: Required value, data[tls.key]: Required value]`},
		{"dockerconfigjson that is not JSON", CmdCreateSecret, CreateSecret{Secret: testSecret("default", "reg", api.SecretTypeDockerConfigJSON,
			map[string]string{".dockerconfigjson": "{"})},
			http.StatusUnprocessableEntity, `data[.dockerconfigjson]: Invalid value: "<secret contents redacted>": unexpected end of JSON input`},
		{"dockerconfigjson without its key", CmdCreateSecret, CreateSecret{Secret: testSecret("default", "reg", api.SecretTypeDockerConfigJSON, nil)},
			http.StatusUnprocessableEntity, `data[.dockerconfigjson]: Required value`},
		{"basic-auth with neither", CmdCreateSecret, CreateSecret{Secret: testSecret("default", "ba", api.SecretTypeBasicAuth, map[string]string{"x": "y"})},
			http.StatusUnprocessableEntity, `[data[username]: Required value, data[password]: Required value]`},
		{"basic-auth with a password only", CmdCreateSecret, CreateSecret{Secret: testSecret("default", "ba", api.SecretTypeBasicAuth, map[string]string{"password": "p"})}, 0, ""},
		{"ssh-auth without a key", CmdCreateSecret, CreateSecret{Secret: testSecret("default", "ssh", api.SecretTypeSSHAuth, nil)},
			http.StatusUnprocessableEntity, `data[ssh-privatekey]: Required value`},
		{"bad key", CmdCreateSecret, CreateSecret{Secret: testSecret("default", "bad", "", map[string]string{"a b": "x"})},
			http.StatusUnprocessableEntity, `data[a b]: Invalid value: "a b": a valid config key`},
		{"over 1 MiB", CmdCreateSecret, CreateSecret{Secret: testSecret("default", "big", "", map[string]string{"a": strings.Repeat("x", 1<<20+1)})},
			http.StatusUnprocessableEntity, `data: Too long: may not be more than 1048576 bytes`},
		{"type changes", CmdUpdateSecret, UpdateSecret{Secret: testSecret("default", "db", api.SecretTypeBasicAuth, map[string]string{"password": "p"})},
			http.StatusUnprocessableEntity, `type: Invalid value: "kubernetes.io/basic-auth": field is immutable`},
		{"made immutable", CmdUpdateSecret, UpdateSecret{Secret: immutable}, 0, ""},
		{"data of an immutable one", CmdUpdateSecret, UpdateSecret{Secret: func() api.Secret {
			s := immutable.DeepCopy()
			s.Data["password"] = []byte("new")
			return *s
		}()}, http.StatusUnprocessableEntity, "data: Forbidden: field is immutable when `immutable` is set"},
		{"immutable unset", CmdUpdateSecret, UpdateSecret{Secret: func() api.Secret {
			s := immutable.DeepCopy()
			s.Immutable = nil
			return *s
		}()}, http.StatusUnprocessableEntity, "immutable: Forbidden: field is immutable when `immutable` is set"},
	}
	for _, tt := range tests {
		_, err := m.CommitPayload(ctx, tt.cmd, tt.payload)
		if code := statusCode(err); code != tt.wantCode || (err != nil && !strings.Contains(err.Error(), tt.wantMsg)) {
			t.Fatalf("%s: err %v (code %d), want code %d with %q", tt.name, err, code, tt.wantCode, tt.wantMsg)
		}
	}
	sec, ok := m.State().Secret("default", "db")
	if !ok || string(sec.Data["user"]) != "admin" || string(sec.Data["password"]) != "s3cret" || string(sec.Data["host"]) != "h" ||
		sec.StringData != nil || sec.Type != api.SecretTypeOpaque || !*sec.Immutable {
		t.Fatalf("stored %+v, want stringData merged over data, type Opaque, immutable", sec)
	}
}

// TestSecretInClearRefusedByTheFSM: a log entry whose Secret carries data
// in clear (one that did not go through the Store's sealing) is refused,
// and so is a sealed value moved onto another Secret.
func TestSecretInClearRefusedByTheFSM(t *testing.T) {
	m := newServiceStore(t, "")
	f := &fsm{state: m.State()}
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clear := command(t, CmdCreateSecret, CreateSecret{Secret: testSecret("default", "db", "", map[string]string{"p": "x"})}, at)
	if err := applyEntry(t, f, 100, clear); statusCode(err) != http.StatusBadRequest || !strings.Contains(err.Error(), "must be sealed") {
		t.Fatalf("data in clear: err %v, want a 400 saying it must be sealed", err)
	}
	bare, sealed, err := m.State().sealer.sealSecret(testSecret("default", "db", "", map[string]string{"p": "x"}))
	if err != nil {
		t.Fatal(err)
	}
	bare.Name = "other"
	moved := command(t, CmdCreateSecret, CreateSecret{Secret: bare, SealedData: sealed}, at)
	if err := applyEntry(t, f, 101, moved); err == nil || !strings.Contains(err.Error(), "message authentication failed") {
		t.Fatalf("sealed value moved to another Secret: err %v, want refused", err)
	}
	if secrets, _ := m.State().Secrets(nil); len(secrets) != 0 {
		t.Fatalf("stored %d secrets, want none", len(secrets))
	}
}

// TestSecretsSealedAtRest: a Secret's data is in neither the Raft log nor
// a snapshot on disk, in clear or in base64, while the state serves it,
// and a restart (snapshot and log replayed) brings it back.
func TestSecretsSealedAtRest(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	solo := startStore(t, testConfig("solo", dir))
	bootstrapAll(t, []*Store{solo})
	waitLeader(t, []*Store{solo})
	const marker, stringMarker, updated = "MARKER-d41d8cd98f00b204", "STRINGDATA-e9800998ecf8427e", "UPDATED-8f14e45fceea167a"
	// kubectl apply copies the manifest, stringData and all, into an
	// annotation: the annotations are sealed with the data.
	const lastApplied = "kubectl.kubernetes.io/last-applied-configuration"
	annotation := `{"stringData":{"token":"` + stringMarker + `"}}`
	commit := func(typ CommandType, p any) {
		t.Helper()
		cmd, err := NewCommand(typ, p)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := solo.Commit(ctx, cmd); err != nil {
			t.Fatalf("%s: %v", typ, err)
		}
	}
	commit(CmdCreateNamespace, CreateNamespace{Namespace: api.Namespace{ObjectMeta: api.ObjectMeta{Name: "default", UID: "ns-default"}}})
	sec := testSecret("default", "db", "", map[string]string{"password": marker})
	sec.StringData = map[string]string{"token": stringMarker}
	sec.Annotations = map[string]string{lastApplied: annotation}
	commit(CmdCreateSecret, CreateSecret{Secret: sec})
	if err := solo.raft.Snapshot().Error(); err != nil {
		t.Fatalf("snapshot: %v", err)
	}
	// One more write after the snapshot, so the log holds one too.
	sec.StringData = nil
	sec.Data["updated"] = []byte(updated)
	sec.Data["token"] = []byte(stringMarker)
	commit(CmdUpdateSecret, UpdateSecret{Secret: sec})

	check := func(s *Store) {
		t.Helper()
		got, ok := s.State().Secret("default", "db")
		if !ok || string(got.Data["password"]) != marker || string(got.Data["token"]) != stringMarker || string(got.Data["updated"]) != updated ||
			got.Annotations[lastApplied] != annotation {
			t.Fatalf("state holds %+v, want the markers and the annotation", got)
		}
	}
	check(solo)
	solo2 := restart(t, solo) // closes raft.db: everything is on disk
	waitLeader(t, []*Store{solo2})
	waitFor(t, "the log after the snapshot to replay", func() bool {
		got, ok := solo2.State().Secret("default", "db")
		return ok && string(got.Data["updated"]) == updated
	})
	check(solo2)
	if err := solo2.Shutdown(); err != nil {
		t.Fatal(err)
	}

	forbidden := map[string][]byte{}
	for _, m := range []string{marker, stringMarker, updated} {
		forbidden[m] = []byte(m)
		forbidden["base64 of "+m] = []byte(base64.StdEncoding.EncodeToString([]byte(m)))
	}
	// The sealed values are there: the provider's prefix, base64 in JSON
	// (its first 33 bytes encode to the same text wherever they start).
	prefix := base64.StdEncoding.EncodeToString([]byte(sealPrefix + secretsKeyName + ":")[:33])
	sealedIn := map[string]bool{}
	var files int
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		files++
		for what, f := range forbidden {
			if bytes.Contains(b, f) {
				t.Errorf("%s holds %s", path, what)
			}
		}
		if bytes.Contains(b, []byte(prefix)) {
			sealedIn[filepath.Base(path)] = true
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if !sealedIn["raft.db"] || !sealedIn["state.bin"] {
		t.Errorf("sealed values found in %v of %d files, want raft.db and a snapshot's state.bin", sealedIn, files)
	}
}

// TestSnapshotSecretsSealed: a persisted snapshot holds sealed Secrets
// that a state with the same key opens, and one with another key refuses.
func TestSnapshotSecretsSealed(t *testing.T) {
	key, _ := newSealer(secretsKeyName, testSecretsKey)
	st := newState(key)
	m := &MemStore{state: st}
	if _, err := m.CommitPayload(t.Context(), CmdCreateNamespace, CreateNamespace{Namespace: api.Namespace{ObjectMeta: api.ObjectMeta{Name: "default", UID: "ns"}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := m.CommitPayload(t.Context(), CmdCreateSecret, CreateSecret{Secret: testSecret("default", "db", "", map[string]string{"p": "hunter2"})}); err != nil {
		t.Fatal(err)
	}
	snap, err := (&fsm{state: st}).Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	sink := &bufferSink{}
	if err := snap.Persist(sink); err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(sink.Bytes(), []byte("hunter2")) || bytes.Contains(sink.Bytes(), []byte(base64.StdEncoding.EncodeToString([]byte("hunter2")))) {
		t.Fatalf("snapshot holds the secret: %s", sink.Bytes())
	}
	var d snapshotData
	if err := json.Unmarshal(sink.Bytes(), &d); err != nil || len(d.Secrets) != 1 || d.Secrets[0].Secret.Data != nil {
		t.Fatalf("snapshot secrets %+v (%v), want one, sealed", d.Secrets, err)
	}
	same := newState(key)
	if err := (&fsm{state: same}).Restore(io.NopCloser(bytes.NewReader(sink.Bytes()))); err != nil {
		t.Fatal(err)
	}
	if got, ok := same.Secret("default", "db"); !ok || string(got.Data["p"]) != "hunter2" {
		t.Fatalf("restored %+v", got)
	}
	if err := (&fsm{state: NewState()}).Restore(io.NopCloser(bytes.NewReader(sink.Bytes()))); err == nil || !strings.Contains(err.Error(), "message authentication failed") {
		t.Fatalf("restore with another key: %v, want refused", err)
	}
}

// TestSecretsGoWithTheirNamespace: deleting a namespace deletes its
// Secrets, with a DELETED watch event each, and leaves the others.
func TestSecretsGoWithTheirNamespace(t *testing.T) {
	m := newServiceStore(t, "")
	ctx := t.Context()
	if _, err := m.CommitPayload(ctx, CmdCreateNamespace, CreateNamespace{Namespace: api.Namespace{ObjectMeta: api.ObjectMeta{Name: "shop", UID: "ns-shop"}}}); err != nil {
		t.Fatal(err)
	}
	for _, ns := range []string{"shop", "default"} {
		if _, err := m.CommitPayload(ctx, CmdCreateSecret, CreateSecret{Secret: testSecret(ns, "db", "", map[string]string{"p": "x"})}); err != nil {
			t.Fatal(err)
		}
	}
	from := m.State().Index()
	if _, err := m.CommitPayload(ctx, CmdDeleteNamespace, DeleteNamespace{Name: "shop"}); err != nil {
		t.Fatal(err)
	}
	if _, ok := m.State().Secret("shop", "db"); ok {
		t.Error("the Secret outlived its namespace")
	}
	if _, ok := m.State().Secret("default", "db"); !ok {
		t.Error("another namespace's Secret went too")
	}
	events, _, ok := m.State().WatchSince(from, "Secret")
	if !ok || len(events) != 1 || events[0].Type != WatchDeleted || events[0].Object.(*api.Secret).Namespace != "shop" {
		t.Errorf("watch events %+v (%v), want one DELETED for shop/db", events, ok)
	}
}

// TestSecretsReplicate: every server of a cluster opens the Secrets the
// leader sealed into the log (they share the key, as agents sharing a
// token do).
func TestSecretsReplicate(t *testing.T) {
	stores := newCluster(t, 3, nil)
	leader := waitLeader(t, stores)
	for _, c := range []struct {
		typ CommandType
		p   any
	}{
		{CmdCreateNamespace, CreateNamespace{Namespace: api.Namespace{ObjectMeta: api.ObjectMeta{Name: "default", UID: "ns"}}}},
		{CmdCreateSecret, CreateSecret{Secret: testSecret("default", "db", "", map[string]string{"p": "hunter2"})}},
	} {
		cmd, err := NewCommand(c.typ, c.p)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := leader.Commit(t.Context(), cmd); err != nil {
			t.Fatalf("%s: %v", c.typ, err)
		}
	}
	for _, s := range stores {
		waitFor(t, s.ID()+" to apply the Secret", func() bool {
			sec, ok := s.State().Secret("default", "db")
			return ok && string(sec.Data["p"]) == "hunter2"
		})
	}
}

// A value sealed in the first format (the data map alone, before the
// annotations were sealed too) still opens, with the annotations that were
// written in clear beside it.
func TestOpenFirstFormatSecret(t *testing.T) {
	s, err := newSealer(secretsKeyName, testSecretsKey)
	if err != nil {
		t.Fatal(err)
	}
	plain, _ := json.Marshal(map[string][]byte{"password": []byte("hunter2"), "v": []byte("x")})
	sealed := s.seal(plain, secretAAD("default", "old"))
	bare := api.Secret{ObjectMeta: api.ObjectMeta{Namespace: "default", Name: "old", Annotations: map[string]string{"note": "clear"}}}
	got, err := s.openSecret(bare, sealed)
	if err != nil {
		t.Fatal(err)
	}
	if string(got.Data["password"]) != "hunter2" || string(got.Data["v"]) != "x" || got.Annotations["note"] != "clear" {
		t.Fatalf("opened %+v", got)
	}
}

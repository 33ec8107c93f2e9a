package consensus

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"

	"k8s.io/apimachinery/pkg/types"

	"github.com/gossipod/gossipod/api"
)

// Secret commands.
const (
	CmdCreateSecret CommandType = "CreateSecret"
	CmdUpdateSecret CommandType = "UpdateSecret"
	CmdDeleteSecret CommandType = "DeleteSecret"
)

// CreateSecret stores a new Secret; the proposer sets its uid, the FSM its
// creation time and resourceVersion. The proposer puts the data in
// Secret.Data (and stringData); the Store seals them into SealedData
// before the command enters the log, and the FSM refuses a Secret command
// with data in clear, so a Secret's data is never written unsealed.
type CreateSecret struct {
	Secret api.Secret `json:"secret"`
	// SealedData is the JSON of the Secret's data, sealed (see sealer).
	SealedData []byte `json:"sealedData,omitempty"`
}

// UpdateSecret replaces a Secret's labels, annotations, data and
// immutable, sealed as CreateSecret's. Its resourceVersion and uid, when
// set, are preconditions; the type is immutable, and so is an immutable
// Secret's data.
type UpdateSecret struct {
	Secret     api.Secret `json:"secret"`
	SealedData []byte     `json:"sealedData,omitempty"`
}

// DeleteSecret removes a Secret. UID, when set, is a precondition.
type DeleteSecret struct {
	Namespace string    `json:"namespace"`
	Name      string    `json:"name"`
	UID       types.UID `json:"uid,omitempty"`
}

// sealedSecret is a Secret in a snapshot: its data sealed.
type sealedSecret struct {
	Secret     api.Secret `json:"secret"`
	SealedData []byte     `json:"sealedData,omitempty"`
}

// secretAAD is what a Secret's sealed data is bound to: its key, as
// Kubernetes binds a value to its etcd key.
func secretAAD(namespace, name string) []byte {
	return []byte("/secrets/" + namespace + "/" + name)
}

// sealedPayload is what a Secret's sealed value holds: its data and its
// annotations, which may hold the data again (kubectl apply's
// last-applied-configuration annotation copies the whole manifest, its
// stringData included), as Kubernetes' encryption at rest covers the whole
// object. V tells it from the first format, the data map alone.
type sealedPayload struct {
	V           int               `json:"v"`
	Data        map[string][]byte `json:"data,omitempty"`
	Annotations map[string]string `json:"annotations,omitempty"`
}

// sealedPayloadVersion is sealedPayload's V.
const sealedPayloadVersion = 2

// sealSecret returns sec with its data (stringData merged) and its
// annotations moved, sealed, into the second result.
func (s *sealer) sealSecret(sec api.Secret) (api.Secret, []byte, error) {
	api.SetSecretDefaults(&sec)
	payload := sealedPayload{V: sealedPayloadVersion, Data: sec.Data, Annotations: sec.Annotations}
	sec.Data, sec.Annotations = nil, nil
	if len(payload.Data) == 0 && len(payload.Annotations) == 0 {
		return sec, nil, nil
	}
	plain, err := json.Marshal(payload)
	if err != nil {
		return sec, nil, fmt.Errorf("encode secret %s/%s data: %w", sec.Namespace, sec.Name, err)
	}
	return sec, s.seal(plain, secretAAD(sec.Namespace, sec.Name)), nil
}

// openSecret returns sec with the data and annotations sealed puts back.
// Data in clear in sec is refused: it would have been in the log. (A value
// sealed in the first format holds the data alone; that Secret's
// annotations are in clear, as they were written.)
func (s *sealer) openSecret(sec api.Secret, sealed []byte) (*api.Secret, error) {
	if len(sec.Data) > 0 || len(sec.StringData) > 0 {
		return nil, api.NewBadRequest(fmt.Sprintf("secret %s/%s: data in clear in a log entry or snapshot: it must be sealed", sec.Namespace, sec.Name))
	}
	out := sec.DeepCopy()
	if len(sealed) == 0 {
		return out, nil
	}
	plain, err := s.open(sealed, secretAAD(sec.Namespace, sec.Name))
	if err != nil {
		return nil, fmt.Errorf("secret %s/%s: %w", sec.Namespace, sec.Name, err)
	}
	var payload sealedPayload
	if err := json.Unmarshal(plain, &payload); err == nil && payload.V == sealedPayloadVersion {
		out.Data = payload.Data
		if len(payload.Annotations) > 0 {
			out.Annotations = payload.Annotations
		}
		return out, nil
	}
	if err := json.Unmarshal(plain, &out.Data); err != nil {
		return nil, fmt.Errorf("secret %s/%s: decode opened data: %w", sec.Namespace, sec.Name, err)
	}
	return out, nil
}

// sealCommand seals the data of a Secret command before it enters the
// log; other commands are returned as they are. Every path into the log
// (Store.commit, MemStore.Commit) calls it.
func (s *State) sealCommand(cmd Command) (Command, error) {
	switch cmd.Type {
	case CmdCreateSecret:
		p, err := decode[CreateSecret](cmd)
		if err != nil {
			return cmd, err
		}
		if p.Secret, p.SealedData, err = s.sealer.sealSecret(p.Secret); err != nil {
			return cmd, err
		}
		return withPayload(cmd, p)
	case CmdUpdateSecret:
		p, err := decode[UpdateSecret](cmd)
		if err != nil {
			return cmd, err
		}
		if p.Secret, p.SealedData, err = s.sealer.sealSecret(p.Secret); err != nil {
			return cmd, err
		}
		return withPayload(cmd, p)
	}
	return cmd, nil
}

// withPayload is cmd with payload p.
func withPayload(cmd Command, p any) (Command, error) {
	raw, err := json.Marshal(p)
	if err != nil {
		return cmd, fmt.Errorf("encode %s command: %w", cmd.Type, err)
	}
	cmd.Payload = raw
	return cmd, nil
}

// Secret returns a Secret, its data in clear; the State's objects are
// copy-on-write, so the caller must not change it.
func (s *State) Secret(namespace, name string) (*api.Secret, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	sec, ok := s.secrets[podKey(namespace, name)]
	return sec, ok
}

// Secrets returns the Secrets keep selects, sorted by namespace and name,
// and the index they reflect. The objects are shared: callers must not
// change them.
func (s *State) Secrets(keep func(*api.Secret) bool) ([]*api.Secret, uint64) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var out []*api.Secret
	for _, key := range slices.Sorted(maps.Keys(s.secrets)) {
		if sec := s.secrets[key]; keep == nil || keep(sec) {
			out = append(out, sec)
		}
	}
	return out, s.index
}

func (s *State) createSecret(index uint64, cmd Command, c CreateSecret) (*api.Secret, error) {
	sec, err := s.sealer.openSecret(c.Secret, c.SealedData)
	if err != nil {
		return nil, err
	}
	api.SetSecretDefaults(sec)
	if err := api.ValidateSecret(sec); err != nil {
		return nil, err
	}
	if sec.UID == "" {
		return nil, api.NewBadRequest("secret uid is required")
	}
	if err := s.admitNamespaced("secrets", sec.Name, sec.Namespace); err != nil {
		return nil, err
	}
	if _, exists := s.secrets[podKey(sec.Namespace, sec.Name)]; exists {
		return nil, alreadyExists("secrets", sec.Name)
	}
	sec.Kind, sec.APIVersion = "Secret", "v1"
	sec.CreationTimestamp = api.NewTime(cmd.Time)
	sec.DeletionTimestamp, sec.DeletionGracePeriodSeconds = nil, nil
	sec.Generation = 0
	s.putSecret(index, nil, sec)
	return sec, nil
}

func (s *State) updateSecret(index uint64, u UpdateSecret) (*api.Secret, error) {
	in, err := s.sealer.openSecret(u.Secret, u.SealedData)
	if err != nil {
		return nil, err
	}
	old, ok := s.secrets[podKey(in.Namespace, in.Name)]
	if !ok {
		return nil, api.NewNotFound("secrets", in.Name)
	}
	if in.ResourceVersion != "" && in.ResourceVersion != old.ResourceVersion || in.UID != "" && in.UID != old.UID {
		return nil, conflictOn("secrets", in.Name)
	}
	api.SetSecretDefaults(in)
	if err := api.ValidateSecretUpdate(old, in); err != nil {
		return nil, err
	}
	if maps.EqualFunc(in.Data, old.Data, bytes.Equal) && isTrue(in.Immutable) == isTrue(old.Immutable) &&
		(in.Immutable == nil) == (old.Immutable == nil) && maps.Equal(in.Labels, old.Labels) && maps.Equal(in.Annotations, old.Annotations) {
		return old, nil // nothing to write
	}
	sec := old.DeepCopy()
	sec.Labels, sec.Annotations = in.Labels, in.Annotations
	sec.Data, sec.Immutable = in.Data, in.Immutable
	s.putSecret(index, old, sec)
	return sec, nil
}

func isTrue(b *bool) bool { return b != nil && *b }

func (s *State) deleteSecret(index uint64, d DeleteSecret) (*api.Secret, error) {
	key := podKey(d.Namespace, d.Name)
	sec, ok := s.secrets[key]
	if !ok {
		return nil, api.NewNotFound("secrets", d.Name)
	}
	if d.UID != "" && d.UID != sec.UID {
		return nil, conflictOn("secrets", d.Name)
	}
	delete(s.secrets, key)
	emitDeleted(s, index, "Secret", sec)
	return sec, nil
}

// removeSecretsOf deletes the Secrets of a namespace being deleted, in a
// fixed order so every replica emits the same events.
func (s *State) removeSecretsOf(index uint64, namespace string) {
	for _, key := range slices.Sorted(maps.Keys(s.secrets)) {
		if sec := s.secrets[key]; sec.Namespace == namespace {
			_, _ = s.deleteSecret(index, DeleteSecret{Namespace: sec.Namespace, Name: sec.Name})
		}
	}
}

func (s *State) putSecret(index uint64, old, sec *api.Secret) {
	sec.ResourceVersion = strconv.FormatUint(index, 10)
	s.secrets[podKey(sec.Namespace, sec.Name)] = sec
	s.emit(index, "Secret", added(old != nil), sec)
}

// sealSecrets seals Secrets for a snapshot, each with a fresh nonce.
func (s *sealer) sealSecrets(in []*api.Secret) ([]sealedSecret, error) {
	var out []sealedSecret
	for _, sec := range in {
		bare, sealed, err := s.sealSecret(*sec)
		if err != nil {
			return nil, err
		}
		out = append(out, sealedSecret{Secret: bare, SealedData: sealed})
	}
	return out, nil
}

// openSecrets opens a snapshot's Secrets.
func (s *sealer) openSecrets(in []sealedSecret) ([]*api.Secret, error) {
	out := make([]*api.Secret, 0, len(in))
	for _, ss := range in {
		sec, err := s.openSecret(ss.Secret, ss.SealedData)
		if err != nil {
			return nil, err
		}
		out = append(out, sec)
	}
	return out, nil
}

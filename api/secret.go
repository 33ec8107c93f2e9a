package api

import (
	"bytes"
	"encoding/json"
	"maps"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Secret is a v1 Secret, Kubernetes' own type: credentials a pod reads
// through its environment or a volume. Its data is sealed (AES-GCM) in the
// Raft log and in snapshots; only the replicas' memory holds it in clear.
// stringData is write-only: SetSecretDefaults merges it into data, and it
// is never stored or returned, as in Kubernetes.
type Secret = corev1.Secret

// SecretList is the answer to a list of Secrets.
type SecretList = corev1.SecretList

// SecretType says what a Secret holds, and so which keys it must have.
type SecretType = corev1.SecretType

// The Secret types whose data kube-apiserver checks.
const (
	SecretTypeOpaque              = corev1.SecretTypeOpaque
	SecretTypeDockerConfigJSON    = corev1.SecretTypeDockerConfigJson
	SecretTypeDockercfg           = corev1.SecretTypeDockercfg
	SecretTypeTLS                 = corev1.SecretTypeTLS
	SecretTypeBasicAuth           = corev1.SecretTypeBasicAuth
	SecretTypeSSHAuth             = corev1.SecretTypeSSHAuth
	SecretTypeServiceAccountToken = corev1.SecretTypeServiceAccountToken
)

// The keys holding the docker config of the two image pull Secret types:
// .dockerconfigjson of kubernetes.io/dockerconfigjson (a config.json,
// {"auths": {...}}) and .dockercfg of kubernetes.io/dockercfg (the older
// ~/.dockercfg, the "auths" map alone).
const (
	DockerConfigJSONKey = corev1.DockerConfigJsonKey
	DockerConfigKey     = corev1.DockerConfigKey
)

// SetSecretDefaults does what kube-apiserver does to a v1 Secret before
// validating it: the namespace (default), type Opaque, and stringData
// merged into data (a key in both takes stringData's value) and dropped.
func SetSecretDefaults(s *Secret) {
	if s.Namespace == "" {
		s.Namespace = DefaultNamespace
	}
	if s.Type == "" {
		s.Type = SecretTypeOpaque
	}
	if len(s.StringData) > 0 {
		data := make(map[string][]byte, len(s.Data)+len(s.StringData))
		maps.Copy(data, s.Data)
		for k, v := range s.StringData {
			data[k] = []byte(v)
		}
		s.Data = data
	}
	s.StringData = nil
}

// ValidateSecret checks a Secret to create, after SetSecretDefaults, as
// kube-apiserver's ValidateSecret does: metadata, keys that are valid
// config keys, at most 1 MiB of data, and the keys its type requires
// (.dockerconfigjson holding JSON, tls.crt and tls.key, username or
// password, ssh-privatekey). It returns nil or a 422 Invalid Status.
func ValidateSecret(s *Secret) error {
	if errs := validateSecret(s); len(errs) > 0 {
		return newInvalid("Secret", s.Name, errs)
	}
	return nil
}

// redacted stands for a secret value in an error, as kube-apiserver
// writes it: a refusal must not echo the credential.
const redacted = "<secret contents redacted>"

func validateSecret(s *Secret) field.ErrorList {
	errs := validateObjectMeta(&s.ObjectMeta, field.NewPath("metadata"))
	dataPath := field.NewPath("data")
	total := 0
	for _, key := range sortedKeys(s.Data) {
		errs = append(errs, invalidEach(dataPath.Key(key), key, validation.IsConfigMapKey(key))...)
		total += len(s.Data[key])
	}
	if total > MaxConfigDataSize {
		errs = append(errs, field.TooLong(dataPath, "", MaxConfigDataSize))
	}
	if len(s.StringData) > 0 {
		// SetSecretDefaults merges it: only a caller that skipped it gets here.
		errs = append(errs, field.Forbidden(field.NewPath("stringData"), "must be merged into data before the Secret is stored"))
	}
	jsonKey := func(key string) {
		b, ok := s.Data[key]
		if !ok {
			errs = append(errs, field.Required(dataPath.Key(key), ""))
			return
		}
		if err := json.Unmarshal(b, &map[string]any{}); err != nil {
			errs = append(errs, field.Invalid(dataPath.Key(key), redacted, err.Error()))
		}
	}
	switch s.Type {
	case SecretTypeOpaque, "":
	case SecretTypeServiceAccountToken:
		if s.Annotations[corev1.ServiceAccountNameKey] == "" {
			errs = append(errs, field.Required(field.NewPath("metadata", "annotations").Key(corev1.ServiceAccountNameKey), ""))
		}
	case SecretTypeDockercfg:
		jsonKey(corev1.DockerConfigKey)
	case SecretTypeDockerConfigJSON:
		jsonKey(corev1.DockerConfigJsonKey)
	case SecretTypeBasicAuth:
		_, user := s.Data[corev1.BasicAuthUsernameKey]
		_, password := s.Data[corev1.BasicAuthPasswordKey]
		if !user && !password {
			errs = append(errs, field.Required(dataPath.Key(corev1.BasicAuthUsernameKey), ""),
				field.Required(dataPath.Key(corev1.BasicAuthPasswordKey), ""))
		}
	case SecretTypeSSHAuth:
		if len(s.Data[corev1.SSHAuthPrivateKey]) == 0 {
			errs = append(errs, field.Required(dataPath.Key(corev1.SSHAuthPrivateKey), ""))
		}
	case SecretTypeTLS:
		if _, ok := s.Data[corev1.TLSCertKey]; !ok {
			errs = append(errs, field.Required(dataPath.Key(corev1.TLSCertKey), ""))
		}
		if _, ok := s.Data[corev1.TLSPrivateKeyKey]; !ok {
			errs = append(errs, field.Required(dataPath.Key(corev1.TLSPrivateKeyKey), ""))
		}
	}
	return errs
}

// ValidateSecretUpdate checks newS, the Secret an update proposes (after
// SetSecretDefaults), against oldS, the stored one: name, namespace and uid
// stay, the type is immutable, an immutable Secret keeps its data and
// immutable itself, and the result is a valid Secret.
func ValidateSecretUpdate(oldS, newS *Secret) error {
	errs := validateMetaUpdate(&oldS.ObjectMeta, &newS.ObjectMeta)
	errs = append(errs, immutable(newS.Type, oldS.Type, field.NewPath("type"))...)
	if isTrue(oldS.Immutable) {
		if !isTrue(newS.Immutable) {
			errs = append(errs, field.Forbidden(field.NewPath("immutable"), immutableWhenSet))
		}
		if !maps.EqualFunc(newS.Data, oldS.Data, bytes.Equal) {
			errs = append(errs, field.Forbidden(field.NewPath("data"), immutableWhenSet))
		}
	}
	errs = append(errs, validateSecret(newS)...)
	if len(errs) > 0 {
		return newInvalid("Secret", newS.Name, errs)
	}
	return nil
}

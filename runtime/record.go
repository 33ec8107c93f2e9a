package runtime

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// recordFile is the pod record's name in the pod's directory.
const recordFile = "pod.json"

// persist writes the pod record if it changed since the last write. The
// record is what a restarted agent re-adopts the pod from: its spec,
// restart counts, back-offs and last statuses. A failure is logged, not
// fatal: the pod runs on, and the next change writes again.
func (w *podWorker) persist() {
	b, err := json.Marshal(w.st)
	if err != nil {
		w.log.Error("encoding pod record", "err", err)
		return
	}
	if bytes.Equal(b, w.written) {
		return
	}
	if err := writeFileAtomic(filepath.Join(w.podDir(), recordFile), b); err != nil {
		w.log.Error("writing pod record", "err", err)
		return
	}
	w.written = b
}

// writeFileAtomic replaces path with data so that a crash leaves the old
// file or the new one, never a mix: write a temporary file, sync it,
// rename it over path, sync the directory.
func writeFileAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // after a successful rename, a no-op
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// readRecords reads the pod records under Root/pods. A directory without a
// readable record maps to nil: it belongs to no pod the runtime can
// re-adopt, and is removed at the first SyncPods.
func (r *Runtime) readRecords() (map[string]*podState, error) {
	entries, err := os.ReadDir(r.cfg.podsDir())
	if err != nil {
		return nil, fmt.Errorf("runtime: read pod records: %w", err)
	}
	found := map[string]*podState{}
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		uid := e.Name()
		if err := checkUID(uid); err != nil {
			// Not made by the runtime: left alone, neither read nor removed.
			r.log.Warn("ignoring a directory that is not a pod's", "dir", filepath.Join(r.cfg.podsDir(), uid), "err", err)
			continue
		}
		st, err := readRecord(filepath.Join(r.cfg.podsDir(), uid, recordFile))
		switch {
		case err == nil && st.Pod != nil && string(st.Pod.UID) == uid:
			found[uid] = st
		case errors.Is(err, fs.ErrNotExist):
			found[uid] = nil
		default:
			r.log.Warn("unusable pod record; the pod's leftovers will be removed", "uid", uid, "err", err)
			found[uid] = nil
		}
	}
	return found, nil
}

func readRecord(path string) (*podState, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var st podState
	if err := json.Unmarshal(b, &st); err != nil {
		return nil, err
	}
	if st.Pod == nil {
		return nil, errors.New("record without a pod")
	}
	return &st, nil
}

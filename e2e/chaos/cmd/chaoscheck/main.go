// Command chaoscheck judges a saved fault run again: the agents' Raft logs
// (chaos.CheckLogsWith) and, when the run directory holds them, the
// clients' history against the final state (chaos.CheckHistory) and the
// Deployments' convergence (chaos.CheckConvergence).
//
//	go run ./e2e/chaos/cmd/chaoscheck RUNDIR
//	go run ./e2e/chaos/cmd/chaoscheck -token-file F DATADIR...
//
// RUNDIR is what TestChaos saves (run.json, history.jsonl, final.json,
// token, and each host's raft/ directory); a single directory without
// run.json is searched for raft.db files. A DATADIR holds raft.db and
// snapshots/. It prints what it read and every violation, and exits 1 when
// there is one, 2 when the records cannot be read.
package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/gossipod/gossipod/e2e/chaos"
	"github.com/gossipod/gossipod/pki"
)

func main() {
	tokenFile := flag.String("token-file", "", "file holding the cluster token, from which the secrets key the log's Secrets are sealed with derives (default: RUNDIR/token)")
	quorum := flag.Int("quorum", 0, "hosts that must hold an entry for it to count as committed (default: a majority of the data dirs)")
	bound := flag.Duration("converge-bound", 3*time.Minute, "how long after the last heal the Deployments may take to converge")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "usage: chaoscheck [flags] RUNDIR | DATADIR...\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() == 0 {
		flag.Usage()
		os.Exit(2)
	}
	n, err := run(flag.Args(), *tokenFile, *quorum, *bound)
	if err != nil {
		fmt.Fprintf(os.Stderr, "chaoscheck: %v\n", err)
		os.Exit(2)
	}
	fmt.Printf("chaoscheck: violations=%d\n", n)
	if n > 0 {
		os.Exit(1)
	}
}

// runRecord is the part of TestChaos's run.json chaoscheck reads.
type runRecord struct {
	RaftDirs  []string `json:"raftDirs"`
	TokenFile string   `json:"tokenFile"`
}

// run checks what args name and returns the number of violations.
func run(args []string, tokenFile string, quorum int, bound time.Duration) (int, error) {
	var runDir string
	dataDirs := args
	if len(args) == 1 {
		if _, err := os.Stat(filepath.Join(args[0], "raft.db")); err != nil {
			runDir = args[0]
			var rec runRecord
			if raw, err := os.ReadFile(filepath.Join(runDir, "run.json")); err == nil {
				if err := json.Unmarshal(raw, &rec); err != nil {
					return 0, fmt.Errorf("read %s: %w", filepath.Join(runDir, "run.json"), err)
				}
			}
			if tokenFile == "" {
				tokenFile = filepath.Join(runDir, "token")
				if rec.TokenFile != "" {
					if _, err := os.Stat(rec.TokenFile); err == nil {
						tokenFile = rec.TokenFile
					}
				}
			}
			if dataDirs, err = findDataDirs(runDir); err != nil {
				return 0, err
			}
		}
	}
	var opts chaos.LogOptions
	opts.Quorum = quorum
	if tokenFile != "" {
		token, err := pki.ReadTokenFile(tokenFile)
		switch {
		case errors.Is(err, fs.ErrNotExist) && runDir != "":
			fmt.Printf("chaoscheck: no token in %s: Secrets cannot be replayed\n", runDir)
		case err != nil:
			return 0, err
		default:
			if opts.SecretsKey, err = pki.SecretsKey(token); err != nil {
				return 0, err
			}
		}
	}

	var violations []chaos.Violation
	rep, vs, err := chaos.CheckLogsWith(dataDirs, opts)
	fmt.Println(rep)
	violations = append(violations, vs...)
	if err != nil {
		return 0, err
	}
	if runDir != "" {
		vs, err := checkRecords(runDir, bound)
		if err != nil {
			return 0, err
		}
		violations = append(violations, vs...)
	}
	for _, v := range violations {
		fmt.Printf("VIOLATION %s: %s\n", v.Invariant, v.Detail)
		for _, e := range v.Entries {
			fmt.Printf("  entry %s\n", e)
		}
		for _, op := range v.Ops {
			fmt.Printf("  op client=%d agent=%d %s %s/%s/%s value=%q %s..%s %s %d %s\n", op.Client, op.Agent, op.Verb,
				op.Resource, op.Namespace, op.Name, op.Value, op.Start.Format("15:04:05.000"), op.End.Format("15:04:05.000"),
				op.Outcome, op.Status, op.Err)
		}
	}
	return len(violations), nil
}

// findDataDirs lists the directories under root that hold a raft.db.
func findDataDirs(root string) ([]string, error) {
	var out []string
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && d.Name() == "raft.db" {
			out = append(out, filepath.Dir(path))
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("find raft.db under %s: %w", root, err)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no raft.db under %s", root)
	}
	sort.Strings(out)
	return out, nil
}

// checkRecords judges history.jsonl against final.json, when the run
// directory holds them.
func checkRecords(dir string, bound time.Duration) ([]chaos.Violation, error) {
	raw, err := os.ReadFile(filepath.Join(dir, "final.json"))
	if errors.Is(err, fs.ErrNotExist) {
		fmt.Printf("chaoscheck: no final.json in %s: the history is not judged\n", dir)
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var final map[string]chaos.FinalObject
	if err := json.Unmarshal(raw, &final); err != nil {
		return nil, fmt.Errorf("decode final.json: %w", err)
	}
	f, err := os.Open(filepath.Join(dir, "history.jsonl"))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var ops []chaos.Op
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64<<10), 16<<20)
	for line := 1; sc.Scan(); line++ {
		var op chaos.Op
		if err := json.Unmarshal(sc.Bytes(), &op); err != nil {
			return nil, fmt.Errorf("history.jsonl line %d: %w", line, err)
		}
		ops = append(ops, op)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read history.jsonl: %w", err)
	}
	out := chaos.CheckHistory(ops, final)
	conv, longest := chaos.CheckConvergence(final, bound)
	fmt.Printf("history: %d operations, %d objects in the final state; Deployments converged within %s of the last heal\n",
		len(ops), len(final), longest)
	return append(out, conv...), nil
}

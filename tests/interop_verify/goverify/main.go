// Command goverify checks Accord's audit log from outside, with nothing of Accord's code:
// the transparency-dev libraries verify the signed checkpoint (C2SP tlog-checkpoint in a
// signed note, Ed25519, golang.org/x/mod/sumdb/note), and RFC 6962 inclusion and
// consistency proofs fetched over HTTP (github.com/transparency-dev/merkle).
//
//	ACCORD_TOKEN=<bearer token> goverify -log http://127.0.0.1:8105 \
//	    -origin accord.example/audit-log -vkey '<name>+<id>+<key>' \
//	    -index 3 -since saved.checkpoint -save latest.checkpoint
//
// It prints what it verified as one JSON object and exits 0, or names the first thing
// that failed on stderr and exits 1. A leaf is hashed here from the entry's bytes, never
// taken from the log's word.
package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/transparency-dev/formats/log"
	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
	"golang.org/x/mod/sumdb/note"
)

type indexes []uint64

func (i *indexes) String() string { return fmt.Sprint(*i) }

func (i *indexes) Set(value string) error {
	n, err := strconv.ParseUint(value, 10, 63)
	if err != nil {
		return fmt.Errorf("an entry index is a non-negative integer: %w", err)
	}
	*i = append(*i, n)
	return nil
}

type client struct {
	base  string
	token string
	http  *http.Client
}

func (c client) get(path string, query url.Values) ([]byte, error) {
	target := strings.TrimRight(c.base, "/") + path
	if len(query) > 0 {
		target += "?" + query.Encode()
	}
	request, err := http.NewRequest(http.MethodGet, target, nil)
	if err != nil {
		return nil, err
	}
	if c.token != "" {
		request.Header.Set("Authorization", "Bearer "+c.token)
	}
	response, err := c.http.Do(request)
	if err != nil {
		return nil, err
	}
	defer response.Body.Close()
	body, err := io.ReadAll(io.LimitReader(response.Body, 16<<20))
	if err != nil {
		return nil, err
	}
	if response.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: HTTP %d", path, response.StatusCode)
	}
	return body, nil
}

func decodeHashes(encoded []string) ([][]byte, error) {
	hashes := make([][]byte, 0, len(encoded))
	for position, text := range encoded {
		hash, err := base64.StdEncoding.DecodeString(text)
		if err != nil {
			return nil, fmt.Errorf("proof hash %d is not base64: %w", position, err)
		}
		hashes = append(hashes, hash)
	}
	return hashes, nil
}

type inclusionProof struct {
	Index    uint64   `json:"index"`
	TreeSize uint64   `json:"tree_size"`
	LeafHash string   `json:"leaf_hash"`
	Hashes   []string `json:"hashes"`
}

type consistencyProof struct {
	First  uint64   `json:"first"`
	Second uint64   `json:"second"`
	Hashes []string `json:"hashes"`
}

type checkpointReport struct {
	Origin string `json:"origin"`
	Size   uint64 `json:"size"`
	Root   string `json:"root"`
}

type inclusionReport struct {
	Index    uint64 `json:"index"`
	LeafHash string `json:"leaf_hash"`
}

type consistencyReport struct {
	From uint64 `json:"from"`
	To   uint64 `json:"to"`
}

type report struct {
	Checkpoint  checkpointReport   `json:"checkpoint"`
	Inclusion   []inclusionReport  `json:"inclusion"`
	Consistency *consistencyReport `json:"consistency,omitempty"`
}

func verifyInclusion(c client, checkpoint *log.Checkpoint, index uint64) (inclusionReport, error) {
	entry, err := c.get(fmt.Sprintf("/entries/%d/canonical", index), nil)
	if err != nil {
		return inclusionReport{}, err
	}
	leaf := rfc6962.DefaultHasher.HashLeaf(entry)
	body, err := c.get("/proofs/inclusion", url.Values{
		"index":     {strconv.FormatUint(index, 10)},
		"tree_size": {strconv.FormatUint(checkpoint.Size, 10)},
	})
	if err != nil {
		return inclusionReport{}, err
	}
	var served inclusionProof
	if err := json.Unmarshal(body, &served); err != nil {
		return inclusionReport{}, fmt.Errorf("inclusion proof is not JSON: %w", err)
	}
	if served.Index != index || served.TreeSize != checkpoint.Size {
		return inclusionReport{}, fmt.Errorf("inclusion proof is for entry %d in size %d, asked %d in %d",
			served.Index, served.TreeSize, index, checkpoint.Size)
	}
	if served.LeafHash != base64.StdEncoding.EncodeToString(leaf) {
		return inclusionReport{}, fmt.Errorf("entry %d: the log's leaf hash is not SHA-256(0x00 || entry)", index)
	}
	hashes, err := decodeHashes(served.Hashes)
	if err != nil {
		return inclusionReport{}, err
	}
	if err := proof.VerifyInclusion(rfc6962.DefaultHasher, index, checkpoint.Size, leaf, hashes, checkpoint.Hash); err != nil {
		return inclusionReport{}, fmt.Errorf("entry %d: inclusion proof: %w", index, err)
	}
	return inclusionReport{Index: index, LeafHash: served.LeafHash}, nil
}

func verifyConsistency(c client, old, latest *log.Checkpoint) (*consistencyReport, error) {
	var hashes [][]byte
	if old.Size > latest.Size {
		return nil, fmt.Errorf("the log shrank from %d to %d entries", old.Size, latest.Size)
	}
	if old.Size > 0 && old.Size < latest.Size {
		body, err := c.get("/proofs/consistency", url.Values{
			"first":  {strconv.FormatUint(old.Size, 10)},
			"second": {strconv.FormatUint(latest.Size, 10)},
		})
		if err != nil {
			return nil, err
		}
		var served consistencyProof
		if err := json.Unmarshal(body, &served); err != nil {
			return nil, fmt.Errorf("consistency proof is not JSON: %w", err)
		}
		if served.First != old.Size || served.Second != latest.Size {
			return nil, fmt.Errorf("consistency proof is for sizes %d..%d, asked %d..%d",
				served.First, served.Second, old.Size, latest.Size)
		}
		if hashes, err = decodeHashes(served.Hashes); err != nil {
			return nil, err
		}
	}
	if err := proof.VerifyConsistency(rfc6962.DefaultHasher, old.Size, latest.Size, hashes, old.Hash, latest.Hash); err != nil {
		return nil, fmt.Errorf("consistency proof %d..%d: %w", old.Size, latest.Size, err)
	}
	return &consistencyReport{From: old.Size, To: latest.Size}, nil
}

func run() error {
	base := flag.String("log", "", "the audit service's base URL")
	origin := flag.String("origin", "", "the log's origin (first line of its checkpoints)")
	vkey := flag.String("vkey", "", "the log's verifier key, <name>+<key id>+<base64 key>, obtained out of band")
	since := flag.String("since", "", "a checkpoint saved earlier: the latest must be consistent with it")
	save := flag.String("save", "", "write the verified latest checkpoint to this file")
	var entries indexes
	flag.Var(&entries, "index", "an entry whose inclusion to verify (repeatable)")
	flag.Parse()
	if *base == "" || *origin == "" || *vkey == "" {
		return errors.New("-log, -origin and -vkey are required")
	}
	verifier, err := note.NewVerifier(*vkey)
	if err != nil {
		return fmt.Errorf("verifier key: %w", err)
	}
	c := client{base: *base, token: os.Getenv("ACCORD_TOKEN"), http: &http.Client{Timeout: 30 * time.Second}}

	raw, err := c.get("/checkpoint", nil)
	if err != nil {
		return err
	}
	latest, _, _, err := log.ParseCheckpoint(raw, *origin, verifier)
	if err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	out := report{
		Checkpoint: checkpointReport{Origin: latest.Origin, Size: latest.Size, Root: base64.StdEncoding.EncodeToString(latest.Hash)},
		Inclusion:  []inclusionReport{},
	}
	for _, index := range entries {
		included, err := verifyInclusion(c, latest, index)
		if err != nil {
			return err
		}
		out.Inclusion = append(out.Inclusion, included)
	}
	if *since != "" {
		saved, err := os.ReadFile(*since)
		if err != nil {
			return err
		}
		old, _, _, err := log.ParseCheckpoint(saved, *origin, verifier)
		if err != nil {
			return fmt.Errorf("saved checkpoint: %w", err)
		}
		if out.Consistency, err = verifyConsistency(c, old, latest); err != nil {
			return err
		}
	}
	if *save != "" {
		if err := os.WriteFile(*save, raw, 0o644); err != nil {
			return err
		}
	}
	var buffer bytes.Buffer
	encoder := json.NewEncoder(&buffer)
	encoder.SetIndent("", "  ")
	if err := encoder.Encode(out); err != nil {
		return err
	}
	_, err = os.Stdout.Write(buffer.Bytes())
	return err
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "goverify: FAILED:", err)
		os.Exit(1)
	}
}

package policy

import (
	"encoding/base64"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"

	yaml "go.yaml.in/yaml/v4"
)

// makeKeyHint tells how to produce a valid gossip key.
const makeKeyHint = "make one with `head -c 32 /dev/urandom | base64`"

// maxKeyFileSize bounds what a file: reference may read; a base64 key of 32
// bytes is 44 characters.
const maxKeyFileSize = 4 << 10

// decodeGossipKey resolves mesh.gossipKey, written as literal base64,
// "env:VAR" or "file:PATH" (relative to the policy file's directory), and
// stores the decoded key. Messages never include the key material.
func decodeGossipKey(d *decoder, n *yaml.Node, v reflect.Value) string {
	if isNull(n) {
		return ""
	}
	if !isString(n) {
		return fmt.Sprintf("expected a base64 key, env:VAR or file:PATH, got %s", describe(n))
	}
	text, source := n.Value, "the key"
	switch {
	case strings.HasPrefix(n.Value, "env:"):
		name := strings.TrimPrefix(n.Value, "env:")
		if name == "" {
			return "env: needs a variable name, like env:WEFT_GOSSIP_KEY"
		}
		val, _ := os.LookupEnv(name)
		if strings.TrimSpace(val) == "" {
			return fmt.Sprintf("environment variable %s is unset or empty; set it to a base64 gossip key (%s)", truncate(name), makeKeyHint)
		}
		text, source = val, "environment variable "+name
	case strings.HasPrefix(n.Value, "file:"):
		path := strings.TrimPrefix(n.Value, "file:")
		if path == "" {
			return "file: needs a path, like file:./gossip.key"
		}
		if !filepath.IsAbs(path) {
			path = filepath.Join(d.dir, path)
		}
		data, msg := readKeyFile(path)
		if msg != "" {
			return msg
		}
		text, source = string(data), "key file "+path
	}
	key, err := base64.StdEncoding.DecodeString(strings.TrimSpace(text))
	if err != nil {
		return fmt.Sprintf("%s is not valid base64; %s", source, makeKeyHint)
	}
	if !slices.Contains([]int{16, 24, 32}, len(key)) {
		return fmt.Sprintf("%s decodes to %d bytes, but a gossip key must be 16, 24 or 32 bytes (AES-128, -192 or -256); %s", source, len(key), makeKeyHint)
	}
	v.SetBytes(key)
	return ""
}

// readKeyFile reads a small regular file. Anything else (a directory, a
// FIFO that would block, a large file) is refused.
func readKeyFile(path string) ([]byte, string) {
	info, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Sprintf("cannot read key file: %v", err)
	}
	if !info.Mode().IsRegular() {
		return nil, fmt.Sprintf("key file %s is not a regular file", path)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Sprintf("cannot read key file: %v", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxKeyFileSize+1))
	if err != nil {
		return nil, fmt.Sprintf("cannot read key file: %v", err)
	}
	if len(data) > maxKeyFileSize {
		return nil, fmt.Sprintf("key file %s is larger than %d bytes; it should hold only the base64 key", path, maxKeyFileSize)
	}
	return data, ""
}

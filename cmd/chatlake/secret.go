package main

import (
	"os"
	"strings"

	"github.com/chatlake/chatlake/extract"
)

// keyRedacted is an error whose text holds no part of the API key. It unwraps to the error it
// redacts, so the exit code is decided as before.
type keyRedacted struct {
	err  error
	text string
}

func (e *keyRedacted) Error() string { return e.text }
func (e *keyRedacted) Unwrap() error { return e.err }

// maxKeyFile bounds what is read of --api-key-file to learn the key to redact.
const maxKeyFile = 64 << 10

// redactKeys removes every part of the API keys the command may know (the environment's, and
// the content of --api-key-file) from err's text: a key pasted where a path or a value
// belongs (--api-key-file KEY, --rate KEY) is echoed by the error that refuses it.
func redactKeys(err error, args []string) error {
	if err == nil {
		return nil
	}
	text := err.Error()
	for _, key := range knownKeys(args) {
		text = extract.RedactKey(key, text)
	}
	if text == err.Error() {
		return err
	}
	return &keyRedacted{err: err, text: text}
}

// knownKeys are the API keys in the environment and in the files --api-key-file may name
// (on the command line or in the environment), trimmed as the command reads them.
func knownKeys(args []string) []string {
	var keys []string
	add := func(k string) {
		if k = strings.TrimSpace(k); k != "" {
			keys = append(keys, k)
		}
	}
	add(os.Getenv(apiKeyEnv))
	files := []string{os.Getenv(envPrefix + "_API_KEY_FILE")}
	for i, a := range args {
		name, value, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if name != "api-key-file" || !strings.HasPrefix(a, "-") {
			continue
		}
		if !hasValue && i+1 < len(args) {
			value = args[i+1]
		}
		files = append(files, value)
	}
	for _, f := range files {
		if fi, err := os.Stat(f); f == "" || err != nil || !fi.Mode().IsRegular() || fi.Size() > maxKeyFile {
			continue
		}
		if data, err := os.ReadFile(f); err == nil {
			add(string(data))
		}
	}
	return keys
}

// redactText removes key from text.
func redactText(key, text string) string { return extract.RedactKey(key, text) }

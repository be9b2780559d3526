package main

import "strings"

// commandLine is `chatlake NAME ARGS...` as a shell reads it back: the command to run again.
// A known API key in it (one pasted where a value belongs) is redacted (redactText).
func commandLine(name string, args []string) string {
	words := make([]string, 0, len(args)+2)
	words = append(words, "chatlake", name)
	for _, a := range args {
		words = append(words, shellQuote(a))
	}
	line := strings.Join(words, " ")
	for _, key := range knownKeys(args) {
		line = redactText(key, line)
	}
	return line
}

// resumeHint says how to resume a run that did not finish: the same command continues it
// (its plan and finished batches are in the lake), and status shows what is left.
func resumeHint(cmdline, lake string) string {
	if cmdline == "" {
		return ""
	}
	return "run the same command again, it continues where this run stopped: " + cmdline +
		" (chatlake status --lake " + shellQuote(lake) + " shows what is left)"
}

package storagetest

import (
	"fmt"
	"maps"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Emulator watches a running emulator process (moto's server or Azurite, started by
// StartMotoEmulator or StartAzuriteEmulator): the requests it has logged, by kind, and the CPU
// time it has spent. Its methods are safe for concurrent use.
type Emulator struct {
	pid      int
	mu       sync.Mutex
	requests map[string]int
	total    int
}

// accessLine is a request in the common log format both emulators write (Werkzeug for moto,
// morgan for Azurite): `"METHOD PATH HTTP/1.1" STATUS`.
var accessLine = regexp.MustCompile(`"([A-Z]+) (\S+) HTTP/[0-9.]+" (\d+)`)

// watch counts the request in line, if it is one.
func (e *Emulator) watch(line string) {
	m := accessLine.FindStringSubmatch(line)
	if m == nil {
		return
	}
	k := requestKind(m[1], m[2])
	e.mu.Lock()
	defer e.mu.Unlock()
	e.requests[k]++
	e.total++
}

// Requests returns how many requests the emulator has logged, and how many of each kind (the
// method, the path with every segment that holds a digit as *, a listing's prefix likewise,
// and the query's keys).
func (e *Emulator) Requests() (int, map[string]int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.total, maps.Clone(e.requests)
}

// SettledRequests is Requests once the emulator's log has been read to its end: when the
// count has not moved for 200ms (an emulator logs a request after answering it, and the log
// is read as it comes).
func (e *Emulator) SettledRequests() (int, map[string]int) {
	n, _ := e.Requests()
	for {
		time.Sleep(200 * time.Millisecond)
		m, kinds := e.Requests()
		if m == n {
			return m, kinds
		}
		n = m
	}
}

// requestKind names a request by method, path pattern and query keys, so that the requests of
// one export group into a few dozen kinds: "PUT /lake/analytics/chat/runs/*/batches/*?".
func requestKind(method, target string) string {
	path, query, _ := strings.Cut(target, "?")
	if p, err := url.PathUnescape(path); err == nil {
		path = p // Azure's blob names escape their slashes
	}
	var keys []string
	if q, err := url.ParseQuery(query); err == nil {
		keys = slices.Sorted(maps.Keys(q))
		if p := q.Get("prefix"); p != "" { // a listing: of what
			path += " prefix=" + p
		}
	}
	segs := strings.Split(path, "/")
	for i, s := range segs {
		if strings.ContainsAny(s, "0123456789") {
			segs[i] = "*"
		}
	}
	return method + " " + strings.Join(segs, "/") + "?" + strings.Join(keys, "&")
}

// clockTick is USER_HZ, the unit of /proc/PID/stat's CPU times: 100 on every Linux that Go
// supports.
const clockTick = time.Second / 100

// CPU returns the user and system CPU time the emulator has spent so far: that of its process
// and of every process in its process group (moto's server runs under pyenv's shims), and of
// their waited-for children. It reads /proc, so it works on Linux only.
func (e *Emulator) CPU() (time.Duration, error) {
	stats, err := filepath.Glob("/proc/[0-9]*/stat")
	if err != nil {
		return 0, err
	}
	var ticks int64
	found := false
	for _, p := range stats {
		b, err := os.ReadFile(p)
		if err != nil {
			continue // a process that has just exited
		}
		pid, pgrp, t, ok := procTimes(string(b))
		if !ok || (pid != e.pid && pgrp != e.pid) {
			continue
		}
		ticks += t
		found = found || pid == e.pid
	}
	if !found {
		return 0, fmt.Errorf("emulator process %d is gone", e.pid)
	}
	return time.Duration(ticks) * clockTick, nil
}

// procTimes parses a /proc/PID/stat line: the pid, the process group, and utime + stime +
// cutime + cstime (fields 14 to 17) in clock ticks. The command (field 2) is in parentheses
// and may hold spaces, so fields are counted from its closing parenthesis.
func procTimes(stat string) (pid, pgrp int, ticks int64, ok bool) {
	open, end := strings.IndexByte(stat, '('), strings.LastIndexByte(stat, ')')
	if open < 1 || end < open {
		return 0, 0, 0, false
	}
	pid, err := strconv.Atoi(strings.TrimSpace(stat[:open]))
	if err != nil {
		return 0, 0, 0, false
	}
	f := strings.Fields(stat[end+1:]) // f[0] is field 3 (state)
	if len(f) < 15 {
		return 0, 0, 0, false
	}
	if pgrp, err = strconv.Atoi(f[2]); err != nil {
		return 0, 0, 0, false
	}
	for _, s := range f[11:15] { // fields 14 to 17
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return 0, 0, 0, false
		}
		ticks += n
	}
	return pid, pgrp, ticks, true
}

package storagetest

import (
	"bufio"
	_ "embed" // motoglue.py
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// motoGlueScript runs moto's server with Glue's UpdateTable VersionId check added.
//
//go:embed motoglue.py
var motoGlueScript string

// StartMotoGlue starts moto's server as StartMoto does, with one behaviour of AWS Glue that
// moto 5.2.1 lacks: UpdateTable with a VersionId other than the table's current one fails with
// ConcurrentModificationException (moto itself ignores VersionId, so two writers that read the
// same version both "succeed" and the later one silently overwrites the earlier). Everything
// else is moto's own server, run by the Python that runs moto_server. It returns the endpoint
// (for AWS_ENDPOINT_URL_GLUE); skipped or failed like StartMoto without moto.
func StartMotoGlue(t testing.TB) (endpoint string) {
	t.Helper()
	py := motoPython(t, MotoServer(t))
	endpoint, _, _ = startMotoArgv(t, []string{py, "-c", motoGlueScript, "-H", "127.0.0.1", "-p0"}, nil, nil)
	return endpoint
}

// motoPython returns the Python interpreter that runs moto_server at bin: its "#!" line's, or,
// for a pyenv shim (a shell script), the python3 shim beside it.
func motoPython(t testing.TB, bin string) string {
	t.Helper()
	if f, err := os.Open(bin); err == nil {
		line, _ := bufio.NewReader(f).ReadString('\n')
		f.Close()
		if fields := strings.Fields(strings.TrimPrefix(line, "#!")); strings.HasPrefix(line, "#!") && len(fields) > 0 {
			if py := fields[len(fields)-1]; strings.Contains(filepath.Base(py), "python") {
				if len(fields) == 1 {
					return py
				}
				if p, err := exec.LookPath(py); err == nil { // "#!/usr/bin/env python3"
					return p
				}
			}
		}
	}
	return filepath.Join(filepath.Dir(bin), "python3")
}

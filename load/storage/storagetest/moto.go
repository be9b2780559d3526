package storagetest

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// Moto's test credentials: moto accepts any, and these reach no real account.
const (
	MotoAccessKey = "AKIACHATLAKETEST0000"
	MotoSecretKey = "chatlake-moto-secret-0000000000000000000"
	MotoRegion    = "us-east-1"
)

// motoListening is the line in which moto_server (Werkzeug) names its port.
var motoListening = regexp.MustCompile(`Running on (http://127\.0\.0\.1:\d+)`)

// MotoServer finds moto's server: moto_server on PATH, else pyenv's shim. Without it the test
// is skipped on a developer's machine and fails under CI=true, where .ci/run makes sure the
// machine has it.
func MotoServer(t testing.TB) string {
	t.Helper()
	if p, err := exec.LookPath("moto_server"); err == nil {
		return p
	}
	if home, err := os.UserHomeDir(); err == nil {
		p := filepath.Join(home, ".pyenv", "shims", "moto_server")
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	const msg = "moto_server (Python's moto with its server extra) is not on PATH nor in ~/.pyenv/shims"
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// StartMoto starts moto's S3 server (moto_server, a real HTTP server in its own process) on a
// free loopback port, waits until it answers, creates buckets, and returns its endpoint
// ("http://127.0.0.1:PORT") and a path-style client with MotoAccessKey / MotoSecretKey in
// MotoRegion. The server is killed by t.Cleanup. Moto honours If-None-Match: * and If-Match on
// PutObject, If-Match on DeleteObject, ranged reads and multipart uploads.
func StartMoto(t testing.TB, buckets ...string) (endpoint string, client *s3.Client) {
	t.Helper()
	return StartMotoEnv(t, nil, buckets...)
}

// StartMotoEnv is StartMoto with more environment for the server: INITIAL_NO_AUTH_ACTION_COUNT=0
// makes it check credentials, and refuse MotoAccessKey (which its IAM does not know) with 403.
func StartMotoEnv(t testing.TB, env []string, buckets ...string) (endpoint string, client *s3.Client) {
	t.Helper()
	endpoint, client, _ = startMoto(t, env, buckets)
	return endpoint, client
}

// StartMotoEmulator is StartMoto that also returns the server's Emulator: the requests it
// logged and the CPU it spent.
func StartMotoEmulator(t testing.TB, buckets ...string) (endpoint string, client *s3.Client, e *Emulator) {
	t.Helper()
	return startMoto(t, nil, buckets)
}

func startMoto(t testing.TB, env []string, buckets []string) (endpoint string, client *s3.Client, e *Emulator) {
	t.Helper()
	return startMotoArgv(t, []string{MotoServer(t), "-H", "127.0.0.1", "-p0"}, env, buckets)
}

// startMotoArgv runs argv, a moto server that names its port as moto_server does.
func startMotoArgv(t testing.TB, argv, env []string, buckets []string) (endpoint string, client *s3.Client, e *Emulator) {
	t.Helper()
	bin := argv[0]
	cmd := exec.Command(bin, argv[1:]...)
	cmd.Env = append(append(os.Environ(), "MOTO_ALLOW_NONEXISTENT_REGION=true"), env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // the shim's children die with it
	out, err := cmd.StderrPipe()
	if err != nil {
		t.Fatalf("moto: %v", err)
	}
	cmd.Stdout = cmd.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("moto: start %s: %v", bin, err)
	}
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		_ = cmd.Wait()
	})
	e = &Emulator{pid: cmd.Process.Pid, requests: map[string]int{}}
	found := make(chan string, 1)
	go func() { // reads the server's log until it exits, so that it never blocks on a full pipe
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			e.watch(sc.Text())
			if m := motoListening.FindStringSubmatch(sc.Text()); m != nil {
				select {
				case found <- m[1]:
				default:
				}
			}
		}
	}()
	select {
	case endpoint = <-found:
	case <-time.After(60 * time.Second):
		t.Fatalf("moto: %s named no port within a minute", bin)
	}
	client = MotoClient(endpoint)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, b := range buckets {
		if _, err := client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(b)}); err != nil {
			t.Fatalf("moto: create bucket %s: %v", b, err)
		}
	}
	return endpoint, client, e
}

// MotoClient is a path-style client of the S3 server at endpoint, with moto's test credentials.
func MotoClient(endpoint string) *s3.Client {
	return s3.New(s3.Options{
		Region:       MotoRegion,
		BaseEndpoint: aws.String(endpoint),
		UsePathStyle: true,
		Credentials:  credentials.NewStaticCredentialsProvider(MotoAccessKey, MotoSecretKey, ""),
	})
}

// MotoEnv is the environment of a process (or a test's, with t.Setenv) that reaches moto through
// the standard AWS configuration: its test credentials and region, and no instance metadata
// lookups (which would leave the machine).
func MotoEnv() []string {
	return []string{
		"AWS_ACCESS_KEY_ID=" + MotoAccessKey,
		"AWS_SECRET_ACCESS_KEY=" + MotoSecretKey,
		"AWS_REGION=" + MotoRegion,
		"AWS_EC2_METADATA_DISABLED=true",
		"AWS_CONFIG_FILE=" + os.DevNull,
		"AWS_SHARED_CREDENTIALS_FILE=" + os.DevNull,
	}
}

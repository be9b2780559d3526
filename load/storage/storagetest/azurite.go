package storagetest

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/sas"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/service"
)

// AzuriteVersion is the version of the npm package azurite that .ci/run installs (into
// AzuriteDir) and that these tests are known to pass with.
const AzuriteVersion = "3.37.0"

// AzuriteAccount is the storage account that StartAzurite's emulator serves.
const AzuriteAccount = "chatlake"

// AzuriteDir is where .ci/run installs azurite (npm install --prefix), below the user's home;
// StartAzurite looks there when azurite-blob is not on PATH.
const AzuriteDir = ".cache/chatlake-ci/azurite"

// AzuriteBin finds the azurite-blob command: on PATH, else in ~/AzuriteDir. Without it, t is
// skipped on a developer's machine and fails when CI=true (where .ci/run installs it).
func AzuriteBin(t testing.TB) string {
	t.Helper()
	if p, err := exec.LookPath("azurite-blob"); err == nil {
		return p
	}
	if home, err := os.UserHomeDir(); err == nil {
		p := filepath.Join(home, AzuriteDir, "node_modules", ".bin", "azurite-blob")
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	msg := fmt.Sprintf("azurite-blob is neither on PATH nor in ~/%s (npm install --prefix ~/%s azurite@%s)", AzuriteDir, AzuriteDir, AzuriteVersion)
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// listening is the line by which azurite-blob says where it listens.
var listening = regexp.MustCompile(`listens on (http://127\.0\.0\.1:\d+)`)

// StartAzurite starts Azure's blob emulator (azurite-blob, see AzuriteBin) on a free loopback
// port with a fresh account key, creates the containers, and returns the connection string
// of the account (the value of AZURE_STORAGE_CONNECTION_STRING for a child process) and a
// client of it. The emulator keeps its data in memory and is stopped by t.Cleanup.
//
// The account key is random for every start: tests check that it appears in no error.
func StartAzurite(t testing.TB, containers ...string) (connString string, client *service.Client) {
	t.Helper()
	connString, client, _ = startAzurite(t, false, containers)
	return connString, client
}

// StartAzuriteEmulator is StartAzurite that also returns the emulator's Emulator: the requests
// it logged (it logs each one, where StartAzurite's is silent) and the CPU it spent.
func StartAzuriteEmulator(t testing.TB, containers ...string) (connString string, client *service.Client, e *Emulator) {
	t.Helper()
	return startAzurite(t, true, containers)
}

func startAzurite(t testing.TB, logged bool, containers []string) (connString string, client *service.Client, e *Emulator) {
	t.Helper()
	bin := AzuriteBin(t)
	var k [64]byte
	if _, err := rand.Read(k[:]); err != nil {
		t.Fatal(err)
	}
	key := base64.StdEncoding.EncodeToString(k[:])
	args := []string{"--blobHost", "127.0.0.1", "--blobPort", "0", "--inMemoryPersistence", "--skipApiVersionCheck", "--loose", "--disableTelemetry"}
	if !logged {
		args = append(args, "--silent")
	}
	cmd := exec.Command(bin, args...)
	cmd.Dir = t.TempDir() // for any file it writes all the same
	cmd.Env = append(os.Environ(), "AZURITE_ACCOUNTS="+AzuriteAccount+":"+key)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		t.Fatalf("azurite: %v", err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	e = &Emulator{pid: cmd.Process.Pid, requests: map[string]int{}}
	endpoint := make(chan string, 1)
	var said strings.Builder
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if m := listening.FindStringSubmatch(sc.Text()); m != nil {
				endpoint <- m[1]
				break
			}
			said.WriteString(sc.Text() + "\n")
		}
		close(endpoint)
		for sc.Scan() { // until it exits, so that it never blocks on a full pipe
			e.watch(sc.Text())
		}
		_, _ = io.Copy(io.Discard, out) // after a line too long for the scanner
	}()
	var base string
	select {
	case b, ok := <-endpoint:
		if !ok {
			t.Fatalf("azurite did not start: %s", said.String())
		}
		base = b
	case <-time.After(60 * time.Second):
		t.Fatal("azurite did not say where it listens within 60s")
	}
	connString = fmt.Sprintf("DefaultEndpointsProtocol=http;AccountName=%s;AccountKey=%s;BlobEndpoint=%s/%s;", AzuriteAccount, key, base, AzuriteAccount)
	client, err = service.NewClientFromConnectionString(connString, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, c := range containers {
		for {
			_, err := client.CreateContainer(ctx, c, nil)
			if err == nil {
				break
			}
			if ctx.Err() != nil {
				t.Fatalf("azurite: create container %s: %v", c, err)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	return connString, client, e
}

// ConnPart is the value of key (AccountKey, BlobEndpoint, ...) in an Azure connection string.
func ConnPart(t testing.TB, connString, key string) string {
	t.Helper()
	for _, p := range strings.Split(connString, ";") {
		if k, v, ok := strings.Cut(p, "="); ok && k == key {
			return v
		}
	}
	t.Fatalf("connection string without %s", key)
	return ""
}

// ContainerSAS signs a SAS token for container of Azurite's account with key: read, add,
// create, write, delete and list, for an hour.
func ContainerSAS(t testing.TB, key, container string) string {
	t.Helper()
	cred, err := service.NewSharedKeyCredential(AzuriteAccount, key)
	if err != nil {
		t.Fatal(err)
	}
	perms := sas.ContainerPermissions{Read: true, Add: true, Create: true, Write: true, Delete: true, List: true}
	q, err := sas.BlobSignatureValues{Protocol: sas.ProtocolHTTPSandHTTP, ExpiryTime: time.Now().Add(time.Hour).UTC(),
		Permissions: perms.String(), ContainerName: container}.SignWithSharedKey(cred)
	if err != nil {
		t.Fatal(err)
	}
	return q.Encode()
}

// Package deploy_test checks the deployment recipes in deploy/ and the Dockerfile: it parses
// every manifest and checks what a scheduler relies on (no overlapping nightly runs, a time
// budget, the API key as a mounted file, non-root pods, shard counts that agree, exit code 3
// handled), so that a recipe cannot drift from chatlake's flags and exit codes unnoticed.
package deploy_test

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

// load parses every YAML document of file.
func load(t *testing.T, file string) []map[string]any {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var docs []map[string]any
	dec := yaml.NewDecoder(f)
	for {
		var d map[string]any
		err := dec.Decode(&d)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		docs = append(docs, d)
	}
	if len(docs) == 0 {
		t.Fatalf("%s holds no document", file)
	}
	return docs
}

// get follows a dotted path ("spec.template.spec.containers[0].args") through maps and lists.
// A missing element fails the test with the path.
func get(t *testing.T, v any, p string) any {
	t.Helper()
	cur := v
	for _, el := range strings.Split(p, ".") {
		key, idx := el, -1
		if i := strings.IndexByte(el, '['); i >= 0 {
			n, err := strconv.Atoi(strings.TrimSuffix(el[i+1:], "]"))
			if err != nil {
				t.Fatalf("bad path %q", p)
			}
			key, idx = el[:i], n
		}
		m, ok := cur.(map[string]any)
		if !ok {
			t.Fatalf("%s: %q is not a mapping", p, key)
		}
		if cur, ok = m[key]; !ok {
			t.Fatalf("%s: no %q", p, key)
		}
		if idx >= 0 {
			l, ok := cur.([]any)
			if !ok || idx >= len(l) {
				t.Fatalf("%s: %q has no element %d", p, key, idx)
			}
			cur = l[idx]
		}
	}
	return cur
}

func str(t *testing.T, v any, p string) string {
	t.Helper()
	s, ok := get(t, v, p).(string)
	if !ok {
		t.Fatalf("%s is %T, want a string", p, get(t, v, p))
	}
	return s
}

func num(t *testing.T, v any, p string) int {
	t.Helper()
	switch n := get(t, v, p).(type) {
	case int:
		return n
	case string: // Cloud Run writes some integers as strings ("86400")
		i, err := strconv.Atoi(n)
		if err != nil {
			t.Fatalf("%s = %q, want an integer", p, n)
		}
		return i
	default:
		t.Fatalf("%s is %T, want an integer", p, n)
		return 0
	}
}

func list(t *testing.T, v any, p string) []any {
	t.Helper()
	l, ok := get(t, v, p).([]any)
	if !ok {
		t.Fatalf("%s is %T, want a list", p, get(t, v, p))
	}
	return l
}

func strs(t *testing.T, v any, p string) []string {
	t.Helper()
	var out []string
	for i, e := range list(t, v, p) {
		s, ok := e.(string)
		if !ok {
			t.Fatalf("%s[%d] is %T, want a string", p, i, e)
		}
		out = append(out, s)
	}
	return out
}

// flag returns the value of --name in args ("--name=v" or "--name v"), and whether it is there.
func flag(args []string, name string) (string, bool) {
	for i, a := range args {
		if v, ok := strings.CutPrefix(a, "--"+name+"="); ok {
			return v, true
		}
		if a == "--"+name && i+1 < len(args) {
			return args[i+1], true
		}
	}
	return "", false
}

// checkCommand checks a chatlake command line: the command, a gs://, s3:// or az:// lake, the key as a file,
// and for backfills a valid closed range.
func checkCommand(t *testing.T, args []string, command string) (keyFile string) {
	t.Helper()
	if len(args) == 0 || args[0] != command {
		t.Fatalf("args %q, want the command %q first", args, command)
	}
	if lake, ok := flag(args, "lake"); !ok || !strings.HasPrefix(lake, "gs://") && !strings.HasPrefix(lake, "s3://") && !strings.HasPrefix(lake, "az://") {
		t.Errorf("args %q: want --lake gs://BUCKET/PREFIX, s3://BUCKET/PREFIX or az://CONTAINER/PREFIX", args)
	}
	for _, f := range []string{"api-url", "customer", "bot", "users-where"} {
		if _, ok := flag(args, f); !ok {
			t.Errorf("args %q lack --%s", args, f)
		}
	}
	keyFile, ok := flag(args, "api-key-file")
	if !ok || !path.IsAbs(keyFile) {
		t.Errorf("args %q: want --api-key-file with an absolute path (the key as a mounted file)", args)
	}
	if command == "backfill" || command == "export" {
		from, ok1 := flag(args, "from")
		to, ok2 := flag(args, "to")
		f, err1 := time.Parse(time.DateOnly, from)
		e, err2 := time.Parse(time.DateOnly, to)
		if !ok1 || !ok2 || err1 != nil || err2 != nil || e.Before(f) {
			t.Errorf("args %q: want --from DAY --to DAY with from <= to", args)
		}
	}
	return keyFile
}

// checkSecretFile checks that keyFile is a file of a Secret volume mounted in the container.
// Kubernetes and Cloud Run both name the file by items[].path.
func checkSecretFile(t *testing.T, pod any, container any, keyFile string) {
	t.Helper()
	dir, base := path.Split(keyFile)
	dir = strings.TrimSuffix(dir, "/")
	var volume string
	for _, m := range list(t, container, "volumeMounts") {
		if strings.TrimSuffix(str(t, m, "mountPath"), "/") == dir {
			volume = str(t, m, "name")
		}
	}
	if volume == "" {
		t.Fatalf("no volume is mounted at %s, the directory of --api-key-file %s", dir, keyFile)
	}
	for _, v := range list(t, pod, "volumes") {
		if str(t, v, "name") != volume {
			continue
		}
		secret, ok := v.(map[string]any)["secret"]
		if !ok {
			t.Fatalf("volume %s at %s is not a secret volume", volume, dir)
		}
		if str(t, secret, "secretName") == "" {
			t.Errorf("secret volume %s has no secretName", volume)
		}
		items, ok := secret.(map[string]any)["items"]
		if !ok {
			return // every key of the secret is a file; base must be one of them
		}
		for _, it := range items.([]any) {
			if str(t, it, "path") == base {
				return
			}
		}
		t.Errorf("secret volume %s has no item with path %q (the file --api-key-file reads)", volume, base)
		return
	}
	t.Fatalf("no volume %q in the pod", volume)
}

// checkPodFailurePolicy checks that exit code 3 (the lake is locked) and 2 (bad input) have a
// rule, that the rules name the container, and that pods are not restarted in place (which
// podFailurePolicy requires).
func checkPodFailurePolicy(t *testing.T, jobSpec any, container string) {
	t.Helper()
	if rp := str(t, jobSpec, "template.spec.restartPolicy"); rp != "Never" {
		t.Errorf("restartPolicy %q, want Never (required by podFailurePolicy)", rp)
	}
	handled := map[int]string{}
	for _, r := range list(t, jobSpec, "podFailurePolicy.rules") {
		rule := r.(map[string]any)
		action := str(t, rule, "action")
		if !slices.Contains([]string{"FailJob", "FailIndex", "Ignore", "Count"}, action) {
			t.Errorf("podFailurePolicy action %q is not one of FailJob, FailIndex, Ignore, Count", action)
		}
		if _, ok := rule["onExitCodes"]; !ok {
			continue
		}
		if c := str(t, rule, "onExitCodes.containerName"); c != container {
			t.Errorf("podFailurePolicy rule names container %q, want %q", c, container)
		}
		if op := str(t, rule, "onExitCodes.operator"); op != "In" {
			t.Errorf("podFailurePolicy operator %q, want In", op)
		}
		for _, c := range list(t, rule, "onExitCodes.values") {
			handled[c.(int)] = action
		}
	}
	for _, code := range []int{2, 3} {
		if handled[code] == "" {
			t.Errorf("exit code %d has no podFailurePolicy rule", code)
		}
	}
	if handled[3] == "Ignore" {
		t.Errorf("exit 3 is ignored: the Job would recreate pods at once while another run holds the lock")
	}
}

// checkPodSecurity checks that the pod runs as a non-root user.
func checkPodSecurity(t *testing.T, pod any) {
	t.Helper()
	if v, _ := get(t, pod, "securityContext.runAsNonRoot").(bool); !v {
		t.Error("securityContext.runAsNonRoot is not true")
	}
	if uid := num(t, pod, "securityContext.runAsUser"); uid == 0 {
		t.Error("securityContext.runAsUser is 0")
	}
}

func TestCronJob(t *testing.T) {
	docs := load(t, "kubernetes/cronjob.yaml")
	cj := docs[0]
	if str(t, cj, "apiVersion") != "batch/v1" || str(t, cj, "kind") != "CronJob" {
		t.Fatalf("want a batch/v1 CronJob")
	}
	if p := str(t, cj, "spec.concurrencyPolicy"); p != "Forbid" {
		t.Errorf("concurrencyPolicy %q, want Forbid: two nightly runs must not overlap", p)
	}
	if f := strings.Fields(str(t, cj, "spec.schedule")); len(f) != 5 {
		t.Errorf("schedule %q is not a 5-field cron expression", str(t, cj, "spec.schedule"))
	}
	job := get(t, cj, "spec.jobTemplate.spec")
	if d := num(t, job, "activeDeadlineSeconds"); d <= 0 || d >= 24*3600 {
		t.Errorf("activeDeadlineSeconds %d, want a budget below a day (the next night's run)", d)
	}
	pod := get(t, job, "template.spec")
	c := get(t, pod, "containers[0]")
	name := str(t, c, "name")
	checkPodFailurePolicy(t, job, name)
	checkPodSecurity(t, pod)
	keyFile := checkCommand(t, strs(t, c, "args"), "run")
	checkSecretFile(t, pod, c, keyFile)
	checkWritableTmp(t, pod, c)
}

func TestBackfillIndexedJob(t *testing.T) {
	docs := load(t, "kubernetes/backfill-indexed-job.yaml")
	job := docs[0]
	if str(t, job, "apiVersion") != "batch/v1" || str(t, job, "kind") != "Job" {
		t.Fatalf("want a batch/v1 Job")
	}
	spec := get(t, job, "spec")
	if m := str(t, spec, "completionMode"); m != "Indexed" {
		t.Errorf("completionMode %q, want Indexed (JOB_COMPLETION_INDEX is the shard index)", m)
	}
	completions := num(t, spec, "completions")
	if p := num(t, spec, "parallelism"); p < 1 || p > completions {
		t.Errorf("parallelism %d, want 1..completions (%d)", p, completions)
	}
	if d := num(t, spec, "activeDeadlineSeconds"); d <= 0 {
		t.Errorf("activeDeadlineSeconds %d, want a time budget", d)
	}
	pod := get(t, spec, "template.spec")
	c := get(t, pod, "containers[0]")
	checkPodFailurePolicy(t, spec, str(t, c, "name"))
	checkPodSecurity(t, pod)
	args := strs(t, c, "args")
	keyFile := checkCommand(t, args, "backfill")
	checkSecretFile(t, pod, c, keyFile)
	checkWritableTmp(t, pod, c)

	// The shard count: --shard-count or CHATLAKE_SHARD_COUNT, equal to completions.
	env := map[string]string{}
	if e, ok := c.(map[string]any)["env"]; ok {
		for _, v := range e.([]any) {
			env[str(t, v, "name")] = fmt.Sprint(v.(map[string]any)["value"])
		}
	}
	count, ok := flag(args, "shard-count")
	if !ok {
		count, ok = env["CHATLAKE_SHARD_COUNT"]
	}
	if !ok || count != strconv.Itoa(completions) {
		t.Errorf("shard count %q (flag or CHATLAKE_SHARD_COUNT), want completions = %d", count, completions)
	}
	if _, set := env["JOB_COMPLETION_INDEX"]; set {
		t.Error("env sets JOB_COMPLETION_INDEX: the Job controller sets it per pod")
	}
	if _, set := flag(args, "shard-index"); set {
		t.Error("args set --shard-index: every pod would be the same shard")
	}
}

// checkWritableTmp: with a read-only root file system, /tmp (the spill directory) must be a
// writable volume.
func checkWritableTmp(t *testing.T, pod, c any) {
	t.Helper()
	ro, _ := c.(map[string]any)["securityContext"].(map[string]any)["readOnlyRootFilesystem"].(bool)
	if !ro {
		return
	}
	for _, m := range list(t, c, "volumeMounts") {
		if str(t, m, "mountPath") == "/tmp" {
			return
		}
	}
	t.Error("readOnlyRootFilesystem without a volume at /tmp: chatlake's spill files need one")
}

func TestCloudRunJob(t *testing.T) {
	docs := load(t, "cloudrun/job.yaml")
	job := docs[0]
	if str(t, job, "apiVersion") != "run.googleapis.com/v1" || str(t, job, "kind") != "Job" {
		t.Fatalf("want a run.googleapis.com/v1 Job")
	}
	execution := get(t, job, "spec.template.spec")
	tasks := num(t, execution, "taskCount")
	if p := num(t, execution, "parallelism"); tasks < 1 || p < 1 || p > tasks {
		t.Errorf("taskCount %d, parallelism %d", tasks, p)
	}
	task := get(t, execution, "template.spec")
	if d := num(t, task, "timeoutSeconds"); d <= 0 {
		t.Errorf("timeoutSeconds %d, want a time budget", d)
	}
	if r := num(t, task, "maxRetries"); r < 0 {
		t.Errorf("maxRetries %d", r)
	}
	if str(t, task, "serviceAccountName") == "" {
		t.Error("no serviceAccountName: the tasks need an identity for GCS and the secret")
	}
	c := get(t, task, "containers[0]")
	args := strs(t, c, "args")
	keyFile := checkCommand(t, args, "backfill")
	checkSecretFile(t, task, c, keyFile)
	// Cloud Run sets CLOUD_RUN_TASK_INDEX/COUNT: a shard flag could only disagree with them.
	for _, f := range []string{"shard-count", "shard-index"} {
		if v, ok := flag(args, f); ok && v != strconv.Itoa(tasks) {
			t.Errorf("--%s %s disagrees with taskCount %d", f, v, tasks)
		}
	}
	if e, ok := c.(map[string]any)["env"]; ok {
		for _, v := range e.([]any) {
			if n := str(t, v, "name"); strings.HasPrefix(n, "CLOUD_RUN_TASK_") {
				t.Errorf("env sets %s, which Cloud Run sets per task", n)
			}
		}
	}

	readme, err := os.ReadFile("cloudrun/README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"gcloud run jobs replace deploy/cloudrun/job.yaml", "gcloud run jobs execute " + str(t, job, "metadata.name"),
		"CLOUD_RUN_TASK_INDEX", "CLOUD_RUN_TASK_COUNT", "gcloud scheduler jobs create"} {
		if !strings.Contains(string(readme), want) {
			t.Errorf("cloudrun/README.md does not show %q", want)
		}
	}
	// The nightly job of the README mounts the secret where its --api-key-file reads it.
	m := regexp.MustCompile(`--set-secrets=(\S+)=\S+:\S+`).FindStringSubmatch(string(readme))
	k := regexp.MustCompile(`--api-key-file=([^,"\s]+)`).FindStringSubmatch(string(readme))
	if m == nil || k == nil || m[1] != k[1] {
		t.Errorf("README: --set-secrets path %v and --api-key-file %v differ", m, k)
	}
}

// kpoTask is a KubernetesPodOperator call of the DAG file, as dagTasks reads it.
type kpoTask struct {
	TaskID    string   `json:"task_id"`
	Arguments []string `json:"arguments"`
	Skip      any      `json:"skip_on_exit_code"`
	Mounts    []string `json:"secret_mounts"`
}

// dagTasks reads the DAG file's operator calls with Python's own parser (the ast module;
// Airflow need not be installed), resolving *NAME in argument lists from top-level lists.
const dagTasks = `
import ast, json, sys
tree = ast.parse(open(sys.argv[1]).read())
lists, secrets = {}, []
for node in tree.body:
    if isinstance(node, ast.Assign) and isinstance(node.value, ast.List):
        for t in node.targets:
            if isinstance(t, ast.Name):
                lists[t.id] = node.value
def strings(l):
    out = []
    for e in l.elts:
        if isinstance(e, ast.Starred):
            out += strings(lists[e.value.id])
        elif isinstance(e, ast.BinOp):
            out.append(ast.unparse(e))
        else:
            out.append(e.value)
    return out
tasks = []
for node in ast.walk(tree):
    if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "Secret":
        kw = {k.arg: k.value for k in node.keywords}
        if kw["deploy_type"].value == "volume":
            secrets.append(kw["deploy_target"].value)
    if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "KubernetesPodOperator":
        kw = {k.arg: k.value for k in node.keywords if k.arg}
        skip = kw.get("skip_on_exit_code")
        tasks.append({"task_id": kw["task_id"].value, "arguments": strings(kw["arguments"]),
                      "skip_on_exit_code": skip.id if isinstance(skip, ast.Name) else (skip.value if skip else None)})
for t in tasks:
    t["secret_mounts"] = secrets
print(json.dumps(tasks))
`

func TestAirflowDAG(t *testing.T) {
	const file = "airflow/chatlake_dag.py"
	src, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	// Without Python, at least the day's binding must be there as text.
	if !regexp.MustCompile(`"export",[^\]]*"--from", "\{\{ ds \}\}", "--to", "\{\{ ds \}\}"`).Match(src) {
		t.Errorf("%s does not bind {{ ds }} to export --from/--to", file)
	}
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 is not on PATH: the DAG's structure is not checked")
	}
	out, err := exec.Command(py, "-c", dagTasks, file).Output()
	if err != nil {
		t.Fatalf("python3 could not read %s: %v", file, err)
	}
	var tasks []kpoTask
	if err := json.Unmarshal(out, &tasks); err != nil {
		t.Fatal(err)
	}
	byCommand := map[string]kpoTask{}
	for _, task := range tasks {
		if len(task.Arguments) > 0 {
			byCommand[task.Arguments[0]] = task
		}
	}
	export, ok := byCommand["export"]
	if !ok {
		t.Fatalf("no export task in %s: %+v", file, tasks)
	}
	if from, _ := flag(export.Arguments, "from"); from != "{{ ds }}" {
		t.Errorf("export --from %q, want {{ ds }}", from)
	}
	if to, _ := flag(export.Arguments, "to"); to != "{{ ds }}" {
		t.Errorf("export --to %q, want {{ ds }}", to)
	}
	nightly, ok := byCommand["run"]
	if !ok {
		t.Fatalf("no nightly run task in %s: %+v", file, tasks)
	}
	for _, task := range []kpoTask{export, nightly} {
		key, ok := flag(task.Arguments, "api-key-file")
		if !ok || !slices.Contains(task.Mounts, path.Dir(key)) {
			t.Errorf("task %s: --api-key-file %q is not in a mounted secret volume %v", task.TaskID, key, task.Mounts)
		}
	}
	if nightly.Skip != "EXIT_LOCKED" && nightly.Skip != float64(3) {
		t.Errorf("nightly skip_on_exit_code %v, want 3 (the lake is locked)", nightly.Skip)
	}
}

// TestDockerfile checks the image recipe that cannot be built here: a multi-stage build of a
// static binary (CGO_ENABLED=0) onto distroless static or scratch, run as a non-root user.
func TestDockerfile(t *testing.T) {
	f, err := os.Open("../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	type stage struct {
		from  string
		lines []string
	}
	var stages []stage
	sc := bufio.NewScanner(f)
	var cont string
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(line, "#") || line == "" {
			continue
		}
		if strings.HasSuffix(line, "\\") {
			cont += strings.TrimSuffix(line, "\\") + " "
			continue
		}
		line, cont = cont+line, ""
		instr, rest, _ := strings.Cut(line, " ")
		switch strings.ToUpper(instr) {
		case "FROM":
			stages = append(stages, stage{from: rest})
		default:
			if len(stages) > 0 {
				stages[len(stages)-1].lines = append(stages[len(stages)-1].lines, line)
			}
		}
	}
	if len(stages) < 2 {
		t.Fatalf("%d stages, want a multi-stage build", len(stages))
	}
	build := strings.Join(stages[0].lines, "\n")
	for _, want := range []string{"CGO_ENABLED=0", "-trimpath", "go build", "./cmd/chatlake"} {
		if !strings.Contains(build, want) {
			t.Errorf("the build stage lacks %q", want)
		}
	}
	final := stages[len(stages)-1]
	base := strings.Fields(final.from)[0]
	distroless := strings.HasPrefix(base, "gcr.io/distroless/static")
	if !distroless && base != "scratch" {
		t.Errorf("final base %q, want gcr.io/distroless/static* or scratch", base)
	}
	body := strings.Join(final.lines, "\n")
	if base == "scratch" && !strings.Contains(body, "ca-certificates") {
		t.Error("a scratch image needs the CA certificates copied in")
	}
	user := regexp.MustCompile(`(?m)^USER\s+(\S+)`).FindStringSubmatch(body)
	if user == nil || user[1] == "root" || strings.HasPrefix(user[1], "0") {
		t.Errorf("final stage USER %v, want a non-root user", user)
	}
	if !strings.Contains(body, `ENTRYPOINT ["/chatlake"]`) {
		t.Error(`final stage lacks ENTRYPOINT ["/chatlake"]`)
	}
}

// TestDockerignore: the build context leaves out only untracked files, so the build's git
// status is the commit's and the binary is not stamped as modified.
func TestDockerignore(t *testing.T) {
	data, err := os.ReadFile("../.dockerignore")
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("git", "-C", "..", "ls-files").Output()
	if err != nil {
		t.Skipf("not a git checkout (%v): nothing to compare with", err)
	}
	tracked := strings.Fields(string(out))
	for _, line := range strings.Split(string(data), "\n") {
		pat := strings.TrimSpace(line)
		if pat == "" || strings.HasPrefix(pat, "#") || strings.HasPrefix(pat, "!") {
			continue
		}
		pat = strings.TrimSuffix(strings.TrimPrefix(pat, "/"), "/")
		if pat == ".git" || strings.HasPrefix(pat, ".git/") {
			t.Errorf(".dockerignore leaves out .git: the build could not stamp the commit")
		}
		for _, file := range tracked {
			if ignored(pat, file) {
				t.Errorf(".dockerignore pattern %q leaves out the tracked file %s", line, file)
			}
		}
	}
}

// ignored reports whether a .dockerignore pattern matches file or one of its parent
// directories ("**" matches any number of elements).
func ignored(pat, file string) bool {
	els := strings.Split(file, "/")
	for i := 1; i <= len(els); i++ {
		if matchGlob(strings.Split(pat, "/"), els[:i]) {
			return true
		}
	}
	return false
}

func matchGlob(pat, els []string) bool {
	if len(pat) == 0 {
		return len(els) == 0
	}
	if pat[0] == "**" {
		for i := 0; i <= len(els); i++ {
			if matchGlob(pat[1:], els[i:]) {
				return true
			}
		}
		return false
	}
	if len(els) == 0 {
		return false
	}
	ok, err := filepath.Match(pat[0], els[0])
	return err == nil && ok && matchGlob(pat[1:], els[1:])
}

// TestMultiBotCronJob: the agency recipe, one config file of bots in a ConfigMap and one
// Indexed Job per night whose task count is a multiple of the bots; every bot names its own
// lake and a key file of the mounted Secret. (cmd/chatlake's TestDeployBotsConfig reads the
// same file with chatlake's own parser.)
func TestMultiBotCronJob(t *testing.T) {
	docs := load(t, "kubernetes/multibot-cronjob.yaml")
	if len(docs) != 2 || str(t, docs[0], "kind") != "ConfigMap" || str(t, docs[1], "kind") != "CronJob" {
		t.Fatalf("want a ConfigMap then a CronJob")
	}
	cm, cj := docs[0], docs[1]
	var cfg struct {
		APIURL string           `yaml:"api-url"`
		Bots   []map[string]any `yaml:"bots"`
	}
	botsYAML, _ := get(t, cm, "data").(map[string]any)["bots.yaml"].(string)
	if err := yaml.Unmarshal([]byte(botsYAML), &cfg); err != nil {
		t.Fatalf("bots.yaml: %v", err)
	}
	if len(cfg.Bots) < 2 || cfg.APIURL == "" {
		t.Fatalf("bots.yaml: %d bots, api-url %q; want several bots and a shared api-url", len(cfg.Bots), cfg.APIURL)
	}
	if p := str(t, cj, "spec.concurrencyPolicy"); p != "Forbid" {
		t.Errorf("concurrencyPolicy %q, want Forbid", p)
	}
	job := get(t, cj, "spec.jobTemplate.spec")
	if m := str(t, job, "completionMode"); m != "Indexed" {
		t.Errorf("completionMode %q, want Indexed", m)
	}
	completions := num(t, job, "completions")
	if completions%len(cfg.Bots) != 0 {
		t.Errorf("completions %d is not a multiple of the %d bots", completions, len(cfg.Bots))
	}
	if d := num(t, job, "activeDeadlineSeconds"); d <= 0 || d >= 24*3600 {
		t.Errorf("activeDeadlineSeconds %d, want a budget below a day", d)
	}
	pod := get(t, job, "template.spec")
	c := get(t, pod, "containers[0]")
	checkPodFailurePolicy(t, job, str(t, c, "name"))
	checkPodSecurity(t, pod)
	checkWritableTmp(t, pod, c)
	env := map[string]string{}
	for _, v := range list(t, c, "env") {
		env[str(t, v, "name")] = fmt.Sprint(v.(map[string]any)["value"])
	}
	if env["CHATLAKE_SHARD_COUNT"] != strconv.Itoa(completions) {
		t.Errorf("CHATLAKE_SHARD_COUNT %q, want completions = %d (the task count)", env["CHATLAKE_SHARD_COUNT"], completions)
	}
	args := strs(t, c, "args")
	config, ok := flag(args, "config")
	if len(args) == 0 || args[0] != "run" || !ok {
		t.Fatalf("args %q, want run --config FILE", args)
	}
	dir, base := path.Split(config)
	mounted := false
	for _, m := range list(t, c, "volumeMounts") {
		if strings.TrimSuffix(str(t, m, "mountPath"), "/") == strings.TrimSuffix(dir, "/") {
			for _, v := range list(t, pod, "volumes") {
				if str(t, v, "name") == str(t, m, "name") {
					mounted = str(t, v, "configMap.name") == str(t, cm, "metadata.name") && base == "bots.yaml"
				}
			}
		}
	}
	if !mounted {
		t.Errorf("--config %s is not the ConfigMap's bots.yaml mounted in the container", config)
	}
	lakes := map[string]bool{}
	for i, b := range cfg.Bots {
		for _, k := range []string{"customer", "bot", "users-where", "lake", "api-key-file"} {
			if _, ok := b[k]; !ok {
				t.Errorf("bot %d has no %s", i, k)
			}
		}
		lake := fmt.Sprint(b["lake"])
		if !strings.HasPrefix(lake, "gs://") || lakes[lake] {
			t.Errorf("bot %d: lake %q, want its own gs:// lake", i, lake)
		}
		lakes[lake] = true
		checkSecretFile(t, pod, c, fmt.Sprint(b["api-key-file"]))
	}
}

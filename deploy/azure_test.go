package deploy_test

import (
	"os"
	"path"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// TestAzureContainerAppsJob checks the Container Apps job: a nightly schedule with one replica,
// a time budget, the job's user-assigned identity for every secret and registry it names (and
// its client id for chatlake's credential chain), an az:// lake with its account, the API key
// as a file of a secret volume, and no storage credential in the recipe.
func TestAzureContainerAppsJob(t *testing.T) {
	job := load(t, "azure/job.yaml")[0]
	conf := get(t, job, "properties.configuration")
	if tt := str(t, conf, "triggerType"); tt != "Schedule" {
		t.Errorf("triggerType %q, want Schedule", tt)
	}
	if cron := strings.Fields(str(t, conf, "scheduleTriggerConfig.cronExpression")); len(cron) != 5 {
		t.Errorf("cronExpression %q: want five fields", cron)
	}
	for _, f := range []string{"parallelism", "replicaCompletionCount"} {
		if n := num(t, conf, "scheduleTriggerConfig."+f); n != 1 {
			t.Errorf("scheduleTriggerConfig.%s %d, want 1: the nightly run is one process", f, n)
		}
	}
	if d := num(t, conf, "replicaTimeout"); d <= 0 || d > 86400 {
		t.Errorf("replicaTimeout %d s, want a time budget of at most a day", d)
	}
	if r := num(t, conf, "replicaRetryLimit"); r < 0 || r > 3 {
		t.Errorf("replicaRetryLimit %d, want 0..3 (a retry after exit 2 or 3 fails again at once)", r)
	}

	// Every identity the job uses is the job's own, user-assigned identity.
	if it := str(t, job, "identity.type"); !strings.Contains(it, "UserAssigned") {
		t.Fatalf("identity.type %q, want UserAssigned", it)
	}
	var ids []string
	for id := range get(t, job, "identity.userAssignedIdentities").(map[string]any) {
		ids = append(ids, id)
	}
	secrets := map[string]bool{}
	for _, sec := range list(t, conf, "secrets") {
		secrets[str(t, sec, "name")] = true
		if _, ok := sec.(map[string]any)["value"]; ok {
			t.Errorf("secret %s holds its value in the recipe; want keyVaultUrl", str(t, sec, "name"))
		}
		if !strings.HasPrefix(str(t, sec, "keyVaultUrl"), "https://") || !slices.Contains(ids, str(t, sec, "identity")) {
			t.Errorf("secret %s: want a keyVaultUrl read by the job's identity %v", str(t, sec, "name"), ids)
		}
	}
	for _, r := range list(t, conf, "registries") {
		if !slices.Contains(ids, str(t, r, "identity")) {
			t.Errorf("registry %s is not pulled by the job's identity", str(t, r, "server"))
		}
	}

	tmpl := get(t, job, "properties.template")
	c := get(t, tmpl, "containers[0]")
	args := strs(t, c, "args")
	keyFile := checkCommand(t, args, "run")
	lake, _ := flag(args, "lake")
	if _, ok := flag(args, "azure-account"); !strings.HasPrefix(lake, "az://") || (!ok && !strings.Contains(lake, ".blob.core.windows.net/")) {
		t.Errorf("--lake %s: want az://CONTAINER/PREFIX with --azure-account, or az://ACCOUNT.blob.core.windows.net/CONTAINER/PREFIX", lake)
	}
	env := map[string]string{}
	if e, ok := c.(map[string]any)["env"]; ok {
		for _, v := range e.([]any) {
			env[str(t, v, "name")] = str(t, v, "value")
		}
	}
	if env["AZURE_CLIENT_ID"] == "" {
		t.Error("no AZURE_CLIENT_ID: the credential chain cannot tell which user-assigned identity to use")
	}
	for _, n := range []string{"AZURE_STORAGE_CONNECTION_STRING", "AZURE_STORAGE_SAS_TOKEN", "AZURE_STORAGE_KEY"} {
		if _, ok := env[n]; ok {
			t.Errorf("env sets %s: the managed identity is the lake's only credential", n)
		}
	}

	// The API key: a file of a Secret volume, from a secret of the configuration.
	dir, base := path.Split(keyFile)
	var volume string
	for _, m := range list(t, c, "volumeMounts") {
		if strings.TrimSuffix(str(t, m, "mountPath"), "/") == strings.TrimSuffix(dir, "/") {
			volume = str(t, m, "volumeName")
		}
	}
	found := false
	for _, v := range list(t, tmpl, "volumes") {
		if str(t, v, "name") != volume || str(t, v, "storageType") != "Secret" {
			continue
		}
		for _, sr := range list(t, v, "secrets") {
			if str(t, sr, "path") == base && secrets[str(t, sr, "secretRef")] {
				found = true
			}
		}
	}
	if !found {
		t.Errorf("--api-key-file %s is not a file of a Secret volume holding a secret of the job", keyFile)
	}

	readme, err := os.ReadFile("azure/README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"az containerapp job create --name chatlake-nightly --resource-group RG --yaml deploy/azure/job.yaml",
		`--role "Storage Blob Data Contributor"`, "/blobServices/default/containers/", "AZURE_CLIENT_ID"} {
		if !strings.Contains(string(readme), want) {
			t.Errorf("azure/README.md does not show %q", want)
		}
	}
	// The role is granted on the lake's container, the one the job's --lake names.
	container := strings.SplitN(strings.TrimPrefix(lake, "az://"), "/", 2)[0]
	if m := regexp.MustCompile(`/blobServices/default/containers/(\S+)`).FindStringSubmatch(string(readme)); m == nil || m[1] != container {
		t.Errorf("README grants the role on container %v, the job writes to %q", m, container)
	}
}

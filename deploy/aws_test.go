package deploy_test

import (
	"encoding/json"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// s3Policy is the part of an IAM policy document that TestEKSCronJob checks.
type s3Policy struct {
	Version   string
	Statement []struct {
		Effect    string
		Action    any // a string or a list
		Resource  any
		Condition map[string]map[string]any
	}
}

// strList is an IAM value that is a string or a list of strings, as a list.
func strList(t *testing.T, v any) []string {
	t.Helper()
	switch v := v.(type) {
	case string:
		return []string{v}
	case []any:
		var out []string
		for _, e := range v {
			s, ok := e.(string)
			if !ok {
				t.Fatalf("%v is not a list of strings", v)
			}
			out = append(out, s)
		}
		return out
	}
	t.Fatalf("%v is neither a string nor a list", v)
	return nil
}

// TestEKSCronJob checks the nightly run on EKS into S3: the CronJob keeps the guarantees of
// the Kubernetes one, its pod runs as a service account that assumes an IAM role through IRSA
// and holds no AWS key, and the role's policy (deploy/aws/iam-policy.json, shown whole in the
// README) grants exactly what the lake needs on the lake's bucket and prefix.
func TestEKSCronJob(t *testing.T) {
	docs := load(t, "aws/cronjob.yaml")
	if len(docs) != 2 || str(t, docs[0], "kind") != "ServiceAccount" || str(t, docs[1], "kind") != "CronJob" {
		t.Fatalf("want a ServiceAccount and a CronJob")
	}
	sa, cj := docs[0], docs[1]
	role, _ := get(t, sa, "metadata.annotations").(map[string]any)["eks.amazonaws.com/role-arn"].(string)
	if !regexp.MustCompile(`^arn:aws:iam::\d{12}:role/[\w+=,.@-]+$`).MatchString(role) {
		t.Errorf("role-arn annotation %q is not an IAM role ARN", role)
	}
	if p := str(t, cj, "spec.concurrencyPolicy"); p != "Forbid" {
		t.Errorf("concurrencyPolicy %q, want Forbid: two nightly runs must not overlap", p)
	}
	job := get(t, cj, "spec.jobTemplate.spec")
	if d := num(t, job, "activeDeadlineSeconds"); d <= 0 || d >= 24*3600 {
		t.Errorf("activeDeadlineSeconds %d, want a budget below a day (the next night's run)", d)
	}
	pod := get(t, job, "template.spec")
	if got := str(t, pod, "serviceAccountName"); got != str(t, sa, "metadata.name") {
		t.Errorf("pod runs as service account %q, want %q (the one bound to the role)", got, str(t, sa, "metadata.name"))
	}
	c := get(t, pod, "containers[0]")
	checkPodFailurePolicy(t, job, str(t, c, "name"))
	checkPodSecurity(t, pod)
	args := strs(t, c, "args")
	keyFile := checkCommand(t, args, "run")
	checkSecretFile(t, pod, c, keyFile)
	checkWritableTmp(t, pod, c)
	if env, ok := c.(map[string]any)["env"]; ok {
		for _, e := range env.([]any) {
			if n := str(t, e, "name"); slices.Contains([]string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"}, n) {
				t.Errorf("the container sets %s: credentials come from IRSA, no key belongs in the manifest", n)
			}
		}
	}

	lake, _ := flag(args, "lake")
	bucket, prefix, _ := strings.Cut(strings.TrimPrefix(lake, "s3://"), "/")
	if !strings.HasPrefix(lake, "s3://") || bucket == "" || prefix == "" {
		t.Fatalf("--lake %q, want s3://BUCKET/PREFIX", lake)
	}
	raw, err := os.ReadFile("aws/iam-policy.json")
	if err != nil {
		t.Fatal(err)
	}
	var pol s3Policy
	if err := json.Unmarshal(raw, &pol); err != nil {
		t.Fatalf("aws/iam-policy.json: %v", err)
	}
	if pol.Version != "2012-10-17" || len(pol.Statement) != 2 {
		t.Fatalf("policy: version %q, %d statements; want 2012-10-17 and 2", pol.Version, len(pol.Statement))
	}
	list, objects := pol.Statement[0], pol.Statement[1]
	for _, c := range []struct {
		what     string
		got      []string
		want     []string
		resource []string
		wantRes  string
	}{
		{"list", strList(t, list.Action), []string{"s3:ListBucket"}, strList(t, list.Resource), "arn:aws:s3:::" + bucket},
		{"objects", strList(t, objects.Action), []string{"s3:AbortMultipartUpload", "s3:DeleteObject", "s3:GetObject", "s3:PutObject"},
			strList(t, objects.Resource), "arn:aws:s3:::" + bucket + "/" + prefix + "/*"},
	} {
		slices.Sort(c.got)
		if !slices.Equal(c.got, c.want) {
			t.Errorf("%s statement allows %q, want exactly %q", c.what, c.got, c.want)
		}
		if !slices.Equal(c.resource, []string{c.wantRes}) {
			t.Errorf("%s statement on %q, want only %s (the lake of the CronJob)", c.what, c.resource, c.wantRes)
		}
	}
	if list.Effect != "Allow" || objects.Effect != "Allow" {
		t.Errorf("effects %q, %q; want Allow", list.Effect, objects.Effect)
	}
	if got := strList(t, list.Condition["StringLike"]["s3:prefix"]); !slices.Equal(got, []string{prefix + "/*"}) {
		t.Errorf("listing limited to prefixes %q, want [%s/*]", got, prefix)
	}

	// The README shows the same policy.
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	var want, shown any
	_ = json.Unmarshal(raw, &want)
	found := false
	for _, block := range regexp.MustCompile("(?s)```json\n(.*?)```").FindAllStringSubmatch(string(readme), -1) {
		if json.Unmarshal([]byte(block[1]), &shown) == nil && reflect.DeepEqual(shown, want) {
			found = true
		}
	}
	if !found {
		t.Error("README.md has no ```json block equal to deploy/aws/iam-policy.json")
	}
}

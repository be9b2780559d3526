package load

import (
	"context"
	"strings"
	"testing"

	"github.com/chatlake/chatlake/schema"
)

// TestForgetCorruptUsersFile: a users file whose footer makes the Parquet reader panic is an
// error of ForgetUsers naming the file, not a crash, and the file is left as it was.
func TestForgetCorruptUsersFile(t *testing.T) {
	ctx := context.Background()
	store := newMemStore()
	l := newTestLake(t, store, Options{})
	users := []schema.User{{ChannelUserID: "919000000005", AttributesJSON: "{}", RunID: "r"}}
	must(t, l.WriteUsers(ctx, "2024-05-04", "plan-1", UsersOf(users), "run-1"))
	name := usersPath("2024-05-04", "plan-1")
	bad := panickingFooter(t, getObject(t, store, name))
	putObject(t, store, name, bad)
	_, err := l.ForgetUsers(ctx, func(string) bool { return true }, "run-forget")
	if err == nil || !strings.Contains(err.Error(), "corrupt parquet") {
		t.Fatalf("error %v, want the corrupt file named", err)
	}
	if got := getObject(t, store, name); string(got) != string(bad) {
		t.Fatal("the corrupt users file was changed")
	}
}

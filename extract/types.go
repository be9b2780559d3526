package extract

import (
	"encoding/json"
	"fmt"
	"time"
)

// Selector is one User API attribute selector: attribute_name=Name, attribute_value=Value.
type Selector struct {
	Name  string
	Value string
}

func (s Selector) String() string { return s.Name + "=" + s.Value }

// User is one user as the User API described it.
type User struct {
	ID         string            // channel_user_id, user_id or userId, whichever the deployment sent
	Channel    string            // channel, "" when absent
	CreatedAt  string            // created_at exactly as sent, "" when absent
	Attributes map[string]string // nested attributes or flat fields; non-string values as their JSON text
	Raw        json.RawMessage   // the whole user object as sent
	Selectors  []Selector        // every selector of the export that matched this user
}

// Window is a half-open UTC time range [Start, End). The API is asked for start_date=Start and
// end_date=End in epoch milliseconds; a deployment may treat end_date as inclusive, so callers
// filter what comes back.
type Window struct {
	Start time.Time
	End   time.Time
}

func (w Window) String() string {
	return fmt.Sprintf("[%s, %s)", w.Start.UTC().Format(time.RFC3339Nano), w.End.UTC().Format(time.RFC3339Nano))
}

// Page is one page of a user's conversations, as sent.
type Page struct {
	Number   int               // page_number asked for, from 1
	Messages []json.RawMessage // each message object exactly as sent
	Total    int               // total_elements when the deployment sent it, else -1
}

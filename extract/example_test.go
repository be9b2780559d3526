package extract_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/chatlake/chatlake/extract"
)

func ExampleClient_Conversations() {
	// A stand-in for a Technowiz deployment.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.URL.Path == "/bot-api/v1.0/customer/42/bot/0123456789abcdef/users" {
			fmt.Fprint(w, `{"status":{"code":1000,"desc":"SUCCESS"},"responseObject":{"users":[
				{"channel_user_id":"919565428256","channel":"whatsapp","attributes":{"feedback":"1"}}]}}`)
			return
		}
		fmt.Fprint(w, `{"status":{"code":1000,"desc":"SUCCESS"},"responseObject":{"conversations":[
			{"user_id":"919565428256","sender":"user","message_type":"TEXT","response":"Hi","timestamp":"2024-05-02 10:15:32.123+0000"}],
			"page_number":1,"page_size":500,"total_elements":1}}`)
	}))
	defer srv.Close()

	c, err := extract.New(extract.Options{BaseURL: srv.URL, CustomerID: "42", BotKey: "0123456789abcdef", APIKey: "3f2c-abcdefg"})
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx := context.Background()
	sel, err := extract.ParseSelector("feedback=1")
	if err != nil {
		fmt.Println(err)
		return
	}
	users, err := c.ListUsers(ctx, []extract.Selector{sel})
	if err != nil {
		fmt.Println(err)
		return
	}
	day := extract.Window{Start: time.Date(2024, 5, 2, 0, 0, 0, 0, time.UTC), End: time.Date(2024, 5, 3, 0, 0, 0, 0, time.UTC)}
	for _, u := range users {
		err := c.Conversations(ctx, u.ID, day, func(p extract.Page) error {
			for _, m := range p.Messages {
				fmt.Printf("%s page %d: %s\n", u.ID, p.Number, m)
			}
			return nil
		})
		if err != nil {
			fmt.Println(err)
			return
		}
	}
	// The users page has no paging metadata: a fresh Client cannot tell its one user from a
	// page-size cap, so it asks for page 2 to confirm the end of the list.
	s := c.Stats()
	fmt.Println("requests:", s.Requests, "confirmations:", s.Confirmations)
	// Output:
	// 919565428256 page 1: {"user_id":"919565428256","sender":"user","message_type":"TEXT","response":"Hi","timestamp":"2024-05-02 10:15:32.123+0000"}
	// requests: 3 confirmations: 1
}

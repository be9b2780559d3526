package sim_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"

	"github.com/chatlake/chatlake/sim"
)

func ExampleNew() {
	s, err := sim.New(sim.Options{Seed: 1, Users: 5})
	if err != nil {
		fmt.Println(err)
		return
	}
	ts := httptest.NewServer(s)
	defer ts.Close()

	u := ts.URL + "/bot-api/v1.0/customer/" + sim.DefaultCustomerID + "/bot/" + sim.DefaultBotKey +
		"/users?" + url.Values{"attribute_name": {"user.channel"}, "attribute_value": {"telegram"}}.Encode()
	req, _ := http.NewRequest(http.MethodGet, u, nil)
	req.Header.Set("Authorization", "Basic "+sim.DefaultAPIKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer resp.Body.Close()
	var body struct {
		ResponseObject struct {
			Users []struct {
				ID string `json:"channel_user_id"`
			} `json:"users"`
		} `json:"responseObject"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(resp.Status)
	for _, u := range body.ResponseObject.Users {
		fmt.Printf("%q -> %s\n", u.ID, url.PathEscape(u.ID))
	}
	// Output:
	// 200 OK
	// "tg:+1 (555)/0100:790 ext 3" -> tg:+1%20%28555%29%2F0100:790%20ext%203
	// "tg:+44 20/7946 0864" -> tg:+44%2020%2F7946%200864
}

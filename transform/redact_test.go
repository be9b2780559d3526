package transform

import "testing"

func TestRedactorText(t *testing.T) {
	r := NewRedactor()
	cases := []struct{ name, in, want string }{
		{"plain", "Hi, I need help with my order", "Hi, I need help with my order"},
		{"email", "mail me at asha.k+test@example.co.in please", "mail me at <email> please"},
		{"two emails", "a@b.io, c_d@e-f.org", "<email>, <email>"},
		{"no tld", "user@localhost is not an address", "user@localhost is not an address"},
		{"whatsapp id", "my number is 919565428256", "my number is <phone>"},
		{"e164 spaced", "call +91 95654 28256 now", "call <phone> now"},
		{"uk spaced", "+44 20 7946 0958", "<phone>"},
		{"us brackets", "(202) 555-0143 is my cell", "<phone> is my cell"},
		{"us dashes", "202-555-0143.", "<phone>."},
		{"plus short", "+4915123456", "<phone>"},
		{"short local kept", "555-0143", "555-0143"},
		{"order number kept", "order 123456 shipped", "order 123456 shipped"},
		{"date kept", "on 2024-05-01 10:15 please", "on 2024-05-01 10:15 please"},
		{"time kept", "at 10:15", "at 10:15"},
		{"glued to a word kept", "ref AB1234567890", "ref AB1234567890"},
		{"visa luhn", "card 4111 1111 1111 1111 exp 12/29", "card <card> exp 12/29"},
		{"mastercard luhn dashes", "5555-5555-5555-4444", "<card>"},
		{"amex luhn", "378282246310005", "<card>"},
		{"16 digits not luhn kept", "tracking 4111111111111112", "tracking 4111111111111112"},
		{"19 digits not luhn kept", "1234567890123456789", "1234567890123456789"},
		{"20 digits kept", "12345678901234567890", "12345678901234567890"},
		{"two numbers one space apart: one run, kept (a known limit)", "9876543210 9123456789", "9876543210 9123456789"},
		{"mixed", "I'm asha@example.com, +919565428256, card 4111111111111111", "I'm <email>, <phone>, card <card>"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := r.Text(tc.in); got != tc.want {
				t.Fatalf("Text(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

func TestLuhn(t *testing.T) {
	for _, tc := range []struct {
		n    string
		want bool
	}{{"4111111111111111", true}, {"4111111111111112", false}, {"79927398713", true}, {"79927398710", false}} {
		if got := luhn([]byte(tc.n)); got != tc.want {
			t.Errorf("luhn(%s) = %v, want %v", tc.n, got, tc.want)
		}
	}
}

// BenchmarkRedactorText: one chat line with an e-mail address and a phone number.
func BenchmarkRedactorText(b *testing.B) {
	r := NewRedactor()
	b.ReportAllocs()
	for b.Loop() {
		_ = r.Text("Hi, I'm Asha, mail asha.k@example.com or call +91 95654 28256 about order 123456")
	}
}

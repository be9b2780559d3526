package sim

import (
	"cmp"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"time"
)

// Message is the ground truth of one message, in canonical values.
type Message struct {
	ChannelUserID string
	SentAt        time.Time // UTC, ms precision
	Sender        string    // lower case
	MessageType   string    // upper case
	Text          string    // the response field
	ArrivesAt     time.Time // when the API starts serving it (== SentAt except late messages)
	// Raw is the message object exactly as the server sends it (timestamp form, letter case and
	// every field included), for tests of losslessness.
	Raw []byte
}

// Channels of generated users.
const (
	ChannelWhatsApp = "whatsapp"
	ChannelWeb      = "web"
	ChannelTelegram = "telegram" // ids hold '+', ':', '/' and spaces
)

// Timestamp forms of served messages.
const (
	formDash  = iota // 2006-01-02 15:04:05.000-0700
	formSlash        // 2006/01/02 15:04:05.000-0700
	formRFC          // 2006-01-02T15:04:05.000Z07:00
	formEpoch        // JSON number of epoch milliseconds
	formCount
)

const (
	layoutDash  = "2006-01-02 15:04:05.000-0700"
	layoutSlash = "2006/01/02 15:04:05.000-0700"
	layoutRFC   = "2006-01-02T15:04:05.000Z07:00"
)

// offsetsMin are the UTC offsets (minutes) timestamps are rendered in; index 0 is +0000.
func offsetsMin() []int { return []int{0, 330, -180, 60, 345, -480, 600, 120, -270} }

type user struct {
	id        string
	channel   string
	createdAt time.Time
	attrs     map[string]string
	msgs      []msg // sorted by sentMs; ties keep generation order
}

type wireFile struct {
	URL        string `json:"url"`
	MimeType   string `json:"mimeType"`
	UploadType string `json:"uploadType"`
}

type wireAttachment struct {
	URL      string `json:"url"`
	MimeType string `json:"mimeType"`
	Name     string `json:"name"`
}

type wireTemplate struct {
	Name        string `json:"name"`
	Language    string `json:"language"`
	BroadcastID string `json:"broadcast_id"`
}

type wireLocation struct {
	Lat float64 `json:"lat"`
	Lng float64 `json:"lng"`
}

// msg is one generated message: canonical values plus how it is served.
type msg struct {
	sentMs, arrivesMs int64
	sender, mtype     string // canonical: lower, upper
	senderAs, typeAs  string // as served
	text              string
	userID            string // the user_id field as served (a session UUID on web)
	form              int
	offsetMin         int
	file              *wireFile
	attachments       []wireAttachment
	template          *wireTemplate
	location          *wireLocation
}

// userRole decides what the generator makes of the user at an index.
type userRole int

const (
	roleNormal userRole = iota
	roleHeavyStraddle
	roleHeavyTrio
	roleTelegram
	roleEmpty
)

func roleOf(i int) userRole {
	switch {
	case i == 0:
		return roleHeavyStraddle
	case i == 1:
		return roleHeavyTrio
	case i == 2 || i == 3:
		return roleTelegram
	case i%10 == 4:
		return roleEmpty
	}
	return roleNormal
}

// StraddlePosition is the index, in the full list of the straddle user's messages in the data
// range, of the first of two identical twins; the second is at StraddlePosition+1, so the pair
// straddles the boundary of 500-message pages.
const StraddlePosition = 499

// generate makes every user deterministically from o.Seed. User i depends only on the seed and
// i, so a smaller Users gives a prefix of the same users.
func generate(o Options) []*user {
	users := make([]*user, 0, o.Users)
	seen := make(map[string]bool, o.Users)
	for i := range o.Users {
		r := rand.New(rand.NewPCG(uint64(o.Seed), 0x9e3779b97f4a7c15^uint64(i)))
		users = append(users, genUser(r, o, i, seen))
	}
	return users
}

func genUser(r *rand.Rand, o Options, i int, seen map[string]bool) *user {
	role := roleOf(i)
	u := &user{attrs: map[string]string{}}
	switch {
	case role == roleHeavyStraddle:
		u.channel = ChannelWhatsApp
	case role == roleHeavyTrio:
		u.channel = ChannelWeb
	case role == roleTelegram:
		u.channel = ChannelTelegram
	case r.Float64() < 0.6:
		u.channel = ChannelWhatsApp
	default:
		u.channel = ChannelWeb
	}
	for {
		switch u.channel {
		case ChannelWhatsApp:
			ccs := []string{"91", "44", "1", "55", "62", "234", "49"}
			u.id = ccs[r.IntN(len(ccs))] + fmt.Sprintf("%d%09d", 1+r.IntN(9), r.IntN(1_000_000_000))
		case ChannelWeb:
			u.id = uuid(r)
		default:
			if i%2 == 0 {
				u.id = fmt.Sprintf("tg:+44 20/7946 %04d", r.IntN(10000))
			} else {
				u.id = fmt.Sprintf("tg:+1 (555)/0100:%03d ext %d", r.IntN(1000), r.IntN(10))
			}
		}
		if !seen[u.id] {
			seen[u.id] = true
			break
		}
	}
	names := []string{"Asha", "Ravi", "Priya", "Carlos", "Ana", "Tom", "Mei", "Olu", "Sven", "Fatima", "José", "Zoë"}
	u.attrs["user.user_name"] = names[r.IntN(len(names))]
	switch u.channel {
	case ChannelWhatsApp:
		u.attrs["user.phone_no"] = "+" + u.id
	case ChannelTelegram:
		u.attrs["user.phone_no"] = "+44 20 7946 " + fmt.Sprintf("%04d", r.IntN(10000))
	}
	u.attrs["user.channel"] = u.channel
	u.attrs["feedback"] = fmt.Sprint(1 + r.IntN(5))
	u.attrs["segment"] = []string{"a", "b", "c"}[r.IntN(3)]
	u.createdAt = o.From.Add(-time.Duration(1+r.Int64N(400*24*3600*1000)) * time.Millisecond)

	var n int
	switch role {
	case roleHeavyStraddle:
		n = 1000 + r.IntN(701)
	case roleHeavyTrio:
		n = 600 + r.IntN(601)
	case roleEmpty:
		n = 0
	default:
		if o.UserMessages > 0 {
			n = 1 + r.IntN(o.UserMessages)
		} else {
			n = 5 + r.IntN(76)
		}
	}
	g := &msgGen{r: r, o: o, u: u}
	g.sessions(n)
	if role == roleHeavyStraddle {
		g.fixtures()
	}
	slices.SortStableFunc(u.msgs, func(a, b msg) int { return cmp.Compare(a.sentMs, b.sentMs) })
	switch role {
	case roleHeavyStraddle:
		// Twins at StraddlePosition and StraddlePosition+1; both on time so that the positions
		// hold whatever the clock.
		u.msgs[StraddlePosition].arrivesMs = u.msgs[StraddlePosition].sentMs
		u.msgs = slices.Insert(u.msgs, StraddlePosition+1, u.msgs[StraddlePosition])
	case roleHeavyTrio:
		j := len(u.msgs) / 3
		u.msgs = slices.Insert(u.msgs, j+1, u.msgs[j], u.msgs[j])
	default:
		if len(u.msgs) > 0 && r.Float64() < 0.15 {
			j := r.IntN(len(u.msgs))
			u.msgs = slices.Insert(u.msgs, j+1, u.msgs[j])
		}
	}
	return u
}

func uuid(r *rand.Rand) string {
	a, b := r.Uint64(), r.Uint64()
	a = a&^0xf000 | 0x4000     // version 4
	b = b&^(0xc<<60) | 0x8<<60 // variant 10
	return fmt.Sprintf("%08x-%04x-%04x-%04x-%012x", a>>32, a>>16&0xffff, a&0xffff, b>>48, b&0xffffffffffff)
}

// msgGen generates one user's messages.
type msgGen struct {
	r       *rand.Rand
	o       Options
	u       *user
	session string // user_id field of the current session
}

// kind is one way a message can look.
type kind int

const (
	kUserText kind = iota
	kBotText
	kOptions
	kAgentText
	kAgentStatus
	kFileReceived
	kImage
	kMedia
	kTemplate
	kLocation
	kButton
	kAttachments
	kindCount
)

func kindWeights() [kindCount]int {
	return [kindCount]int{kUserText: 30, kBotText: 22, kOptions: 9, kAgentText: 5, kAgentStatus: 4,
		kFileReceived: 5, kImage: 4, kMedia: 3, kTemplate: 7, kLocation: 3, kButton: 2, kAttachments: 3}
}

func (g *msgGen) pickKind() kind {
	w := kindWeights()
	total := 0
	for _, x := range w {
		total += x
	}
	x := g.r.IntN(total)
	for k, wk := range w {
		if x < wk {
			return kind(k)
		}
		x -= wk
	}
	return kUserText
}

// sessions makes n messages in bursts ("sessions") of 1..12 messages a few seconds apart, then
// snaps a few to midnight or 23:59:59.999 and makes ~3% late by 2..30 h and ~1% by 4..6 days.
func (g *msgGen) sessions(n int) {
	fromMs, toMs := g.o.From.UnixMilli(), g.o.To.UnixMilli()
	span := toMs - fromMs - 3600*1000 // sessions last under an hour
	const day = 24 * 3600 * 1000
	for len(g.u.msgs) < n {
		g.newSession()
		t := fromMs + g.r.Int64N(span)
		for l := min(n-len(g.u.msgs), 1+g.r.IntN(12)); l > 0; l-- {
			t += 300 + g.r.Int64N(120_000)
			m := g.make(g.pickKind(), t)
			switch x := g.r.Float64(); {
			case x < 0.01:
				if s := t - mod(t, day); s >= fromMs {
					m.sentMs = s
				}
			case x < 0.02:
				if s := t - mod(t, day) + day - 1; s < toMs {
					m.sentMs = s
				}
			}
			m.arrivesMs = m.sentMs
			switch x := g.r.Float64(); {
			case x < 0.03:
				m.arrivesMs += 2*3600*1000 + g.r.Int64N(28*3600*1000+1)
			case x < 0.04:
				m.arrivesMs += 4*day + g.r.Int64N(2*day+1)
			}
			g.u.msgs = append(g.u.msgs, m)
		}
	}
}

func mod(a, b int64) int64 { return ((a % b) + b) % b }

func (g *msgGen) newSession() {
	g.session = g.u.id
	if g.u.channel == ChannelWeb {
		g.session = uuid(g.r)
	}
}

// fixtures adds, to the straddle user, messages exactly on the range's boundaries and on
// whole days, and a session holding every message type in every timestamp form and offset.
func (g *msgGen) fixtures() {
	fromMs, toMs := g.o.From.UnixMilli(), g.o.To.UnixMilli()
	const day = 24 * 3600 * 1000
	g.newSession()
	add := func(k kind, t int64, form, off int) {
		m := g.make(k, t)
		m.arrivesMs = t
		m.form, m.offsetMin = form, off
		g.u.msgs = append(g.u.msgs, m)
	}
	offs := offsetsMin()
	firstMidnight := fromMs - mod(fromMs, day)
	if firstMidnight < fromMs {
		firstMidnight += day
	}
	add(kUserText, fromMs, formDash, 0)
	add(kBotText, toMs-1, formDash, 0)
	for i, t := 0, firstMidnight; t < toMs; i, t = i+1, t+day {
		add(kUserText, t, i%formCount, offs[i%len(offs)])
		if t-1 >= fromMs {
			add(kBotText, t-1, (i+1)%formCount, offs[(i+3)%len(offs)])
		}
	}
	g.newSession()
	t := fromMs + (toMs-fromMs)/2
	t -= mod(t, 1000)
	i := 0
	for k := range kindCount { // every kind in every form
		for _, form := range []int{formDash, formSlash, formRFC, formEpoch} {
			t += 1000
			add(k, t, form, offs[i%len(offs)])
			i++
		}
	}
	for _, form := range []int{formDash, formSlash, formRFC} { // every offset in every string form
		for _, off := range offs {
			t += 1000
			add(kUserText, t, form, off)
		}
	}
	// letter-case variants
	for _, c := range []struct {
		k           kind
		sender, typ string
	}{
		{kUserText, "USER", "text"}, {kBotText, "Bot", "Text"}, {kAgentText, "AGENT", "TEXT"}, {kOptions, "bot", "options"},
	} {
		t += 1000
		m := g.make(c.k, t)
		m.arrivesMs = t
		m.senderAs, m.typeAs = c.sender, c.typ
		g.u.msgs = append(g.u.msgs, m)
	}
}

func (g *msgGen) make(k kind, t int64) msg {
	r := g.r
	m := msg{sentMs: t, userID: g.session}
	pick := func(xs ...string) string { return xs[r.IntN(len(xs))] }
	hex := func() string { return fmt.Sprintf("%012x", r.Uint64()&0xffffffffffff) }
	switch k {
	case kUserText, kAttachments:
		m.sender, m.mtype = "user", "TEXT"
		m.text = pick("Hi", "Hello", "Where is my order?", "I want to talk to an agent", "Thanks!", "ok",
			"What are your opening hours?", fmt.Sprintf("Order #%d", 10000+r.IntN(90000)), "नमस्ते",
			"Can I change my address?", "😀👍", `He said "hello" \ bye`, "line one\nline two", "")
		if k == kAttachments {
			m.text = pick("See attached", "Here are the documents", "")
			for j := 0; j < 1+r.IntN(2); j++ {
				name := fmt.Sprintf("scan_%d.jpg", r.IntN(1000))
				m.attachments = append(m.attachments, wireAttachment{
					URL: "https://files.example/a/" + hex() + "/" + name, MimeType: "image/jpeg", Name: name})
			}
		}
	case kBotText:
		m.sender, m.mtype = "bot", "TEXT"
		m.text = pick("Hi! How can I help you today?", fmt.Sprintf("Your order %d is on its way.", 10000+r.IntN(90000)),
			"Please rate our service", "Sorry, I did not understand that.", "<b>Menu</b> & more: 1) Orders 2) Help",
			"Our hours are 9:00–18:00, Mon–Sat.")
	case kOptions:
		m.sender, m.mtype = "bot", "OPTIONS"
		m.text = pick("[⭐, ⭐⭐, ⭐⭐⭐, ⭐⭐⭐⭐, ⭐⭐⭐⭐⭐]", "[Yes, No]", "[Track order, Talk to agent, Main menu]")
	case kAgentText:
		m.sender, m.mtype = "agent", "TEXT"
		m.text = pick("Hello, this is Ravi from support.", "Let me check that for you.", "Is there anything else?")
	case kAgentStatus:
		m.sender, m.mtype = "agent", "AGENT_PARTICIPATION_STATUS"
		m.text = fmt.Sprintf(`{"agentId":%d,"PARTICIPATION_MESSAGE":"<strong>%s</strong> %s the conversation"}`,
			100000+r.IntN(900000), pick("Ravi", "Priya", "Carlos", "Ana"), pick("joined", "left"))
	case kFileReceived:
		m.sender, m.mtype = "user", "FILE_RECEIVED"
		f := []struct{ name, mime, up string }{
			{"photo_%d.jpeg", "image/jpeg", "IMAGE"}, {"invoice_%d.pdf", "application/pdf", "DOCUMENT"},
			{"voice_%d.ogg", "audio/ogg", "AUDIO"}, {"clip_%d.mp4", "video/mp4", "VIDEO"},
		}[r.IntN(4)]
		name := fmt.Sprintf(f.name, r.IntN(1000))
		m.text = "User uploaded " + name + " - [" + f.mime + "]"
		m.file = &wireFile{URL: "https://files.example/u/" + hex() + "/" + name, MimeType: f.mime, UploadType: f.up}
	case kImage:
		m.sender, m.mtype = "bot", "IMAGE"
		m.text = pick("Here is your receipt", "")
		m.file = &wireFile{URL: "https://files.example/b/" + hex() + ".png", MimeType: "image/png", UploadType: "IMAGE"}
	case kMedia:
		f := []struct{ typ, ext, mime string }{
			{"VIDEO", "mp4", "video/mp4"}, {"AUDIO", "mp3", "audio/mpeg"}, {"DOCUMENT", "pdf", "application/pdf"},
		}[r.IntN(3)]
		m.sender, m.mtype = "bot", f.typ
		m.text = ""
		m.file = &wireFile{URL: "https://files.example/b/" + hex() + "." + f.ext, MimeType: f.mime, UploadType: f.typ}
	case kTemplate:
		m.sender, m.mtype = "bot", "TEMPLATE"
		t := []struct{ text, name, lang, bc string }{
			{"Your order has shipped", "order_shipped", "en", "nov-promo"},
			{"Reminder: your appointment is tomorrow", "appointment_reminder", "en_US", "may-reminders"},
			{"आपके लिए विशेष ऑफ़र", "welcome_offer", "hi", "spring-sale"},
			{"Como foi o nosso atendimento?", "feedback_request", "pt_BR", "bc-2024-05"},
		}[r.IntN(4)]
		m.text = t.text
		m.template = &wireTemplate{Name: t.name, Language: t.lang, BroadcastID: t.bc}
	case kLocation:
		m.sender, m.mtype = "user", "LOCATION"
		m.text = "Location shared"
		m.location = &wireLocation{Lat: float64(r.IntN(1_800_000)-900_000) / 10_000, Lng: float64(r.IntN(3_600_000)-1_800_000) / 10_000}
	case kButton:
		m.sender, m.mtype = "bot", pick("BUTTON", "CAROUSEL")
		m.text = pick("[Confirm, Cancel]", "Pick a product")
	}
	m.senderAs, m.typeAs = m.sender, m.mtype
	if x := r.Float64(); x < 0.03 {
		m.senderAs = strings.ToUpper(m.sender)
	} else if x < 0.05 {
		m.senderAs = strings.ToUpper(m.sender[:1]) + m.sender[1:]
	}
	if x := r.Float64(); x < 0.03 {
		m.typeAs = strings.ToLower(m.mtype)
	} else if x < 0.05 {
		m.typeAs = m.mtype[:1] + strings.ToLower(m.mtype[1:])
	}
	switch x := r.Float64(); {
	case x < 0.7:
		m.form = formDash
	case x < 0.8:
		m.form = formSlash
	case x < 0.9:
		m.form = formRFC
	default:
		m.form = formEpoch
	}
	if r.Float64() >= 0.6 {
		offs := offsetsMin()
		m.offsetMin = offs[1+r.IntN(len(offs)-1)]
	}
	return m
}

// timestamp renders m's timestamp as a JSON value in its form and offset.
func (m *msg) timestamp(b []byte) []byte {
	if m.form == formEpoch {
		return fmt.Appendf(b, "%d", m.sentMs)
	}
	t := time.UnixMilli(m.sentMs).In(time.FixedZone("", m.offsetMin*60))
	layout := layoutDash
	switch m.form {
	case formSlash:
		layout = layoutSlash
	case formRFC:
		layout = layoutRFC
	}
	b = append(b, '"')
	b = t.AppendFormat(b, layout)
	return append(b, '"')
}

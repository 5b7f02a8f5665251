package event

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/cloudevents/sdk-go/v2/binding"
	"github.com/cloudevents/sdk-go/v2/event"
	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"
	"github.com/google/uuid"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"knative.dev/pkg/apis"
	"sigs.k8s.io/yaml"

	"flywheel.dev/pkg/commands/params"
	"flywheel.dev/pkg/commands/printers"
)

// Names of the flags, as errors spell them.
const (
	brokerFlag      = "broker"
	toFlag          = "to"
	typeFlag        = "type"
	sourceFlag      = "source"
	dataFlag        = "data"
	dataFileFlag    = "data-file"
	dataJSONFlag    = "data-json"
	contentTypeFlag = "content-type"
	extensionFlag   = "extension"
)

// Content types of the data when --content-type does not say.
const (
	textContentType   = "text/plain"
	jsonContentType   = "application/json"
	binaryContentType = "application/octet-stream"
)

const (
	// sendTimeout bounds one post, answer included: the ingress answers
	// once the event is stored, which takes milliseconds.
	sendTimeout = 30 * time.Second
	// maxAnswerBytes is as much of an answer's body as is shown; the
	// ingress's are one line.
	maxAnswerBytes = 64 << 10
	// stdinPath as --data-file reads the data from standard input.
	stdinPath = "-"
)

type sendOptions struct {
	broker      string
	to          string
	eventType   string
	source      string
	id          string
	subject     string
	data        string
	dataFile    string
	dataJSON    string
	contentType string
	extensions  []string
	output      string

	set *pflag.FlagSet
}

// NewEventSendCommand returns `fw event send`.
func NewEventSendCommand(p *params.Params) *cobra.Command {
	var o sendOptions
	cmd := &cobra.Command{
		Use:   "send (--broker NAME | --to URL) --type TYPE",
		Short: "Send a CloudEvent to a Broker or a URL and show the answer",
		Long: `Post one CloudEvent in the binary content mode of the CloudEvents HTTP
binding (its attributes as ce- headers, its data as the body), then print
the status and body of the answer. The command fails when the answer is
not a 2xx: a Broker answers 202 once it stored the event, and 400, 404,
405, 413 or 503 with a message that says why not.

A Broker's address is inside the cluster, so --broker NAME does not post
to it directly: it posts through the API server's proxy of the Service in
the address, with the kubeconfig's credentials, e.g. for the Broker
default in namespace demo to
  /api/v1/namespaces/flywheel-system/services/http:broker-ingress:80/proxy/demo/default
That works from any machine with a kubeconfig, given the permission to
create services/proxy in flywheel-system. From inside the cluster, or to
any other receiver, give the URL with --to.

The id is a new UUID and the time now unless told otherwise. The data's
content type follows from the flag that gives it: text/plain for --data,
application/json for --data-json, and by the file name's extension for
--data-file; --content-type overrides it.`,
		Example: `  # An event without data to the Broker "default":
  fw event send --broker default --type com.example.ping

  # With JSON data, a subject and an extension attribute:
  fw event send --broker default --type com.example.order.placed --source /shop \
    --subject order-42 --extension region=eu --data-json '{"order": 42, "total": 9.5}'

  # The data of a file, or of standard input:
  fw event send --broker default --type com.example.report --data-file report.json
  echo hello | fw event send --broker default --type com.example.greeting --data-file -

  # To a URL, from where it resolves, and print what was sent as YAML:
  fw event send --to http://localhost:8080/ --type com.example.ping --id ping-1 -o yaml`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runSend(cmd.Context(), cmd.InOrStdin(), cmd.OutOrStdout(), p, &o)
		},
	}
	fs := cmd.Flags()
	o.set = fs
	fs.StringVar(&o.broker, brokerFlag, "", "the Broker to send the event to, in the namespace of -n")
	fs.StringVar(&o.to, toFlag, "", "the URL to post the event to, instead of a Broker")
	fs.StringVar(&o.eventType, typeFlag, "", "the event's type attribute, e.g. com.example.order.placed (required)")
	fs.StringVar(&o.source, sourceFlag, "fw", "the event's source attribute: a URI reference that names what produced it")
	fs.StringVar(&o.id, "id", "", "the event's id attribute (default a new UUID)")
	fs.StringVar(&o.subject, "subject", "", "the event's subject attribute: what in the source it is about")
	fs.StringVar(&o.data, dataFlag, "", "the event's data, as text")
	fs.StringVar(&o.dataFile, dataFileFlag, "", "a file whose content is the event's data; - reads standard input")
	fs.StringVar(&o.dataJSON, dataJSONFlag, "", "the event's data, as JSON, which is checked before it is sent")
	fs.StringVar(&o.contentType, contentTypeFlag, "", "the media type of the data (datacontenttype), e.g. application/xml")
	fs.StringArrayVar(&o.extensions, extensionFlag, nil, "an extension attribute NAME=VALUE, e.g. region=eu (repeatable)")
	fs.StringVarP(&o.output, "output", "o", "",
		"print the URL posted to, the event in the JSON format of CloudEvents, and the answer, as json or yaml")
	return cmd
}

func runSend(ctx context.Context, in io.Reader, out io.Writer, p *params.Params, o *sendOptions) error {
	if err := printers.CheckOutput(o.output); err != nil {
		return err
	}
	if err := o.checkTarget(); err != nil {
		return err
	}
	ev, err := o.event(in, p.Now())
	if err != nil {
		return err
	}
	dest, err := o.destination(ctx, p)
	if err != nil {
		return err
	}
	ans, err := post(ctx, dest, ev)
	if err != nil {
		return err
	}
	if o.output != "" {
		if err := printReport(out, o.output, report{URL: dest.url.String(), Event: ev, Answer: ans}); err != nil {
			return err
		}
	} else {
		fmt.Fprintf(out, "Sent event %s to %s.\n", ev.ID(), dest.what)
		fmt.Fprintf(out, "%d %s\n", ans.Status, http.StatusText(ans.Status))
		if ans.Body != "" {
			fmt.Fprintln(out, strings.TrimSuffix(ans.Body, "\n"))
		}
	}
	if ans.Status < 200 || ans.Status > 299 {
		return notAccepted(dest, ans)
	}
	return nil
}

// checkTarget requires exactly one of --broker and --to.
func (o *sendOptions) checkTarget() error {
	switch {
	case o.broker != "" && o.to != "":
		return fmt.Errorf("--%s and --%s both say where to send the event: give one of them", brokerFlag, toFlag)
	case o.broker == "" && o.to == "":
		return fmt.Errorf("say where to send the event: --%s NAME for a Broker, e.g. --%s default, or --%s URL", brokerFlag, brokerFlag, toFlag)
	}
	return nil
}

// event builds the CloudEvent the flags describe; data from standard
// input is read from in.
func (o *sendOptions) event(in io.Reader, now time.Time) (*event.Event, error) {
	if o.eventType == "" {
		return nil, fmt.Errorf("--%s is required: the kind of event, e.g. --%s com.example.order.placed", typeFlag, typeFlag)
	}
	if o.source == "" {
		return nil, fmt.Errorf("--%s is empty: give a URI reference that names what produced the event, e.g. --%s /shop", sourceFlag, sourceFlag)
	}
	ev := event.New()
	id := o.id
	if id == "" {
		id = uuid.NewString()
	}
	ev.SetID(id)
	ev.SetType(o.eventType)
	ev.SetSource(o.source)
	ev.SetTime(now)
	if o.subject != "" {
		ev.SetSubject(o.subject)
	}
	for _, x := range o.extensions {
		name, value, ok := strings.Cut(x, "=")
		if !ok || !isAttributeName(name) {
			return nil, fmt.Errorf("--%s %q: want NAME=VALUE, where NAME holds only lower-case letters and digits, e.g. --%s region=eu", extensionFlag, x, extensionFlag)
		}
		if err := ev.Context.SetExtension(name, value); err != nil {
			return nil, fmt.Errorf("--%s %q: %w; set the type, source, id and subject with their own flags", extensionFlag, x, err)
		}
	}
	data, contentType, err := o.readData(in)
	if err != nil {
		return nil, err
	}
	if data != nil {
		ev.SetDataContentType(contentType)
		ev.DataEncoded = data
		// Shown by -o as text or JSON when it is that, else as base64.
		ev.DataBase64 = !utf8.Valid(data) || (isJSON(contentType) && !json.Valid(data))
	}
	if err := ev.Validate(); err != nil {
		return nil, fmt.Errorf("the event is not valid: %w", err)
	}
	return &ev, nil
}

// readData returns the data of --data, --data-file or --data-json, at
// most one of them, and its content type; nil data for none.
func (o *sendOptions) readData(in io.Reader) ([]byte, string, error) {
	var given []string
	for _, f := range []string{dataFlag, dataFileFlag, dataJSONFlag} {
		if o.set.Changed(f) {
			given = append(given, "--"+f)
		}
	}
	if len(given) > 1 {
		return nil, "", fmt.Errorf("%s each give the data: give one of them", strings.Join(given, " and "))
	}
	var data []byte
	var contentType string
	switch {
	case o.set.Changed(dataFlag):
		data, contentType = []byte(o.data), textContentType
	case o.set.Changed(dataJSONFlag):
		if !json.Valid([]byte(o.dataJSON)) {
			return nil, "", fmt.Errorf("--%s %q is not valid JSON; quote it for the shell, e.g. --%s '{\"order\": 42}', or send text with --%s",
				dataJSONFlag, o.dataJSON, dataJSONFlag, dataFlag)
		}
		data, contentType = []byte(o.dataJSON), jsonContentType
	case o.set.Changed(dataFileFlag):
		var err error
		if data, err = readFile(in, o.dataFile); err != nil {
			return nil, "", fmt.Errorf("--%s: %w", dataFileFlag, err)
		}
		contentType = mime.TypeByExtension(filepath.Ext(o.dataFile))
		if contentType == "" {
			contentType = binaryContentType
		}
	}
	if o.set.Changed(contentTypeFlag) {
		if data == nil {
			return nil, "", fmt.Errorf("--%s is the type of the data: give the data too, with --%s, --%s or --%s",
				contentTypeFlag, dataFlag, dataFileFlag, dataJSONFlag)
		}
		if _, _, err := mime.ParseMediaType(o.contentType); err != nil {
			return nil, "", fmt.Errorf("--%s %q is not a media type, e.g. application/xml: %w", contentTypeFlag, o.contentType, err)
		}
		contentType = o.contentType
	}
	if data == nil && given != nil {
		data = []byte{} // data given, and empty
	}
	return data, contentType, nil
}

func readFile(in io.Reader, name string) ([]byte, error) {
	if name == stdinPath {
		return io.ReadAll(in)
	}
	return os.ReadFile(name)
}

// isAttributeName reports whether name can name a CloudEvents attribute:
// lower-case letters and digits.
func isAttributeName(name string) bool {
	if name == "" {
		return false
	}
	for _, r := range name {
		if (r < 'a' || r > 'z') && (r < '0' || r > '9') {
			return false
		}
	}
	return true
}

// isJSON reports whether a content type is JSON's, or a +json one.
func isJSON(contentType string) bool {
	mediaType, _, err := mime.ParseMediaType(contentType)
	return err == nil && (mediaType == jsonContentType || mediaType == "text/json" || strings.HasSuffix(mediaType, "+json"))
}

// destination is where an event is posted, and with which client.
type destination struct {
	client *http.Client
	url    *url.URL
	// what names it in messages.
	what string
	// address is the Broker's own address when the post goes through
	// the API server's Service proxy; empty otherwise.
	address string
}

func (o *sendOptions) destination(ctx context.Context, p *params.Params) (destination, error) {
	if o.to != "" {
		u, err := url.Parse(o.to)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return destination{}, fmt.Errorf("--%s %q: want an http or https URL, e.g. --%s http://localhost:8080/", toFlag, o.to, toFlag)
		}
		return destination{client: p.HTTPClient(), url: u, what: u.String()}, nil
	}
	client, ns, err := p.ConnectEventing()
	if err != nil {
		return destination{}, err
	}
	b, err := params.Get(ctx, client.Brokers(ns).Get, "Broker", ns, o.broker)
	if err != nil {
		return destination{}, err
	}
	what := fmt.Sprintf("Broker %s in namespace %s", b.Name, ns)
	if b.Status.Address == nil || b.Status.Address.URL == nil {
		return destination{}, fmt.Errorf("%s has no address yet; see why with fw broker describe %s -n %s", what, b.Name, ns)
	}
	address := b.Status.Address.URL
	proxy, err := serviceProxyPath(address)
	if err != nil {
		return destination{}, fmt.Errorf("%s: %w", what, err)
	}
	httpClient, server, err := p.APIServer()
	if err != nil {
		return destination{}, err
	}
	u := *server
	u.Path = strings.TrimSuffix(server.Path, "/") + proxy
	u.RawPath = ""
	u.RawQuery = address.RawQuery
	return destination{client: httpClient, url: &u, what: what, address: address.String()}, nil
}

// serviceProxyPath returns the path on the API server that proxies to
// address, a URL of a Service inside the cluster
// (http://NAME.NAMESPACE.svc.DOMAIN/PATH): the Service's proxy
// subresource, named SCHEME:NAME:PORT, with PATH after it.
func serviceProxyPath(address *apis.URL) (string, error) {
	u := address.URL()
	labels := strings.Split(u.Hostname(), ".")
	if len(labels) < 3 || labels[2] != "svc" {
		return "", fmt.Errorf("its address %s is not that of a Service in the cluster, so the API server cannot proxy to it; "+
			"post from where the address resolves, with --%s %s", address, toFlag, address)
	}
	port := u.Port()
	if port == "" {
		port = "80"
		if address.Scheme == "https" {
			port = "443"
		}
	}
	service := address.Scheme + ":" + labels[0] + ":" + port
	return path.Join("/api/v1/namespaces", labels[1], "services", service, "proxy") + address.Path, nil
}

// answer is what the receiver said.
type answer struct {
	Status int    `json:"status"`
	Body   string `json:"body,omitempty"`
}

// post sends ev to d in binary content mode and returns the answer.
func post(ctx context.Context, d destination, ev *event.Event) (answer, error) {
	ctx, cancel := context.WithTimeout(ctx, sendTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.url.String(), nil)
	if err != nil {
		return answer{}, fmt.Errorf("posting to %s: %w", d.url, err)
	}
	if err := cehttp.WriteRequest(binding.WithForceBinary(ctx), binding.ToMessage(ev), req); err != nil {
		return answer{}, fmt.Errorf("encoding the event: %w", err)
	}
	resp, err := d.client.Do(req)
	if err != nil {
		return answer{}, fmt.Errorf("posting the event to %s: %w", d.what, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswerBytes))
	if err != nil {
		return answer{}, fmt.Errorf("reading the answer of %s: %w", d.what, err)
	}
	return answer{Status: resp.StatusCode, Body: string(body)}, nil
}

// notAccepted is the error of an answer that is not a 2xx.
func notAccepted(d destination, ans answer) error {
	msg := fmt.Sprintf("%s did not accept the event: %d %s", d.what, ans.Status, http.StatusText(ans.Status))
	if d.address != "" && ans.Status == http.StatusForbidden {
		msg += fmt.Sprintf("\nThe API server refused to proxy the event: the kubeconfig's user needs to be allowed to create services/proxy "+
			"in the namespace of the Broker's address; or post from inside the cluster with --%s %s", toFlag, d.address)
	}
	return errors.New(msg)
}

// report is what -o prints: the URL posted to, the event in the JSON
// format of CloudEvents, and the answer.
type report struct {
	URL    string       `json:"url"`
	Event  *event.Event `json:"event"`
	Answer answer       `json:"answer"`
}

func printReport(out io.Writer, format string, r report) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding as %s: %w", format, err)
	}
	if format == printers.YAML {
		if b, err = yaml.JSONToYAML(b); err != nil {
			return fmt.Errorf("encoding as %s: %w", format, err)
		}
	} else {
		b = append(b, '\n')
	}
	_, err = out.Write(b)
	return err
}

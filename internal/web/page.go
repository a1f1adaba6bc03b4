package web

import (
	"bytes"
	"fmt"
	"html"
	"html/template"
	"io"
	"strings"
	"time"

	"github.com/semaphored/semaphored/internal/state"
)

func htmlEscape(s string) string { return html.EscapeString(s) }

// writeLines writes lines as HTML, one <div> per line.
func writeLines(b *bytes.Buffer, lines []state.LogLine) {
	for _, l := range lines {
		b.WriteString("<div>")
		b.WriteString(ANSIToHTML(l.Text))
		b.WriteString("</div>\n")
	}
}

// palette is the xterm colour of each 256-colour index.
func palette(i int) string {
	base := []string{"#1e1e1e", "#e06c75", "#98c379", "#e5c07b", "#61afef", "#c678dd", "#56b6c2", "#d0d0d0",
		"#7f7f7f", "#ff7b86", "#b5e890", "#ffd787", "#84c4ff", "#e1a3ee", "#7fdbe6", "#ffffff"}
	switch {
	case i < 16:
		return base[i]
	case i < 232:
		i -= 16
		lv := []int{0, 95, 135, 175, 215, 255}
		return fmt.Sprintf("#%02x%02x%02x", lv[i/36], lv[(i/6)%6], lv[i%6])
	}
	g := 8 + (i-232)*10
	return fmt.Sprintf("#%02x%02x%02x", g, g, g)
}

// colourCSS is the CSS of the ANSI classes ANSIToHTML emits.
var colourCSS = func() string {
	var b strings.Builder
	for i := 0; i < 8; i++ {
		fmt.Fprintf(&b, ".f%d{color:%s}.f%d{color:%s}.b%d{background:%s}.b%d{background:%s}",
			30+i, palette(i), 90+i, palette(8+i), 40+i, palette(i), 100+i, palette(8+i))
	}
	for i := 0; i < 256; i++ {
		fmt.Fprintf(&b, ".c%d{color:%s}.d%d{background:%s}", i, palette(i), i, palette(i))
	}
	b.WriteString(".bo{font-weight:bold}.di{opacity:.7}.it{font-style:italic}.un{text-decoration:underline}")
	return b.String()
}()

type pageData struct {
	T         state.Task
	Trigger   string
	CommitURL string
	Short     string
	Duration  string
	Created   string
	Log       template.HTML
	First     uint64
	Last      uint64
	Count     int
	Query     string
	Terminal  bool
	CSS       template.CSS
}

var pageTmpl = template.Must(template.New("page").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>{{.T.Project}}/{{.T.Template}} #{{.T.ID}} {{.T.Status}}</title>
<style>
:root{color-scheme:light dark;--bg:#fff;--fg:#1f2328;--mu:#59636e;--bd:#d1d9e0}
@media(prefers-color-scheme:dark){:root{--bg:#0d1117;--fg:#e6edf3;--mu:#9198a1;--bd:#3d444d}}
*{box-sizing:border-box}
html,body{height:100%}
body{margin:0;background:var(--bg);color:var(--fg);font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;display:flex;flex-direction:column}
header{padding:12px 16px;border-bottom:1px solid var(--bd)}
h1{font-size:18px;margin:0 0 8px;word-break:break-word}
.s{display:inline-block;padding:2px 10px;border-radius:12px;font-weight:600;font-size:13px;color:#fff;background:#6e7781;vertical-align:2px;margin-right:6px}
.s.success{background:#1a7f37}.s.failure,.s.error{background:#cf222e}.s.stopped,.s.interrupted{background:#9a6700}
.s.running,.s.starting{background:#0969da}.s.waiting,.s.waiting_confirmation{background:#6e7781}
dl{display:grid;grid-template-columns:max-content 1fr;gap:2px 12px;margin:0;font-size:14px}
dt{color:var(--mu)}dd{margin:0;word-break:break-all}
a{color:#0969da}
.msg{margin:8px 0 0;color:var(--mu)}
#bar{padding:6px 16px;font-size:13px;color:var(--mu);display:flex;gap:12px;align-items:center;flex-wrap:wrap}
button{font:inherit;padding:4px 10px;border-radius:6px;border:1px solid var(--bd);background:transparent;color:var(--fg)}
#log{flex:1 1 auto;min-height:12em;overflow:auto;background:#1e1e1e;color:#d0d0d0;font:13px/1.4 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;padding:8px 0;margin:0}
#log>div{white-space:pre-wrap;word-break:break-all;padding:0 12px;min-height:1.4em}
{{.CSS}}
</style></head>
<body data-id="{{.T.ID}}" data-q="{{.Query}}" data-first="{{.First}}" data-last="{{.Last}}" data-status="{{.T.Status}}" data-terminal="{{.Terminal}}" data-lines="{{.Count}}" data-live="0">
<header>
<h1><span id="status" class="s {{.T.Status}}">{{.T.Status}}</span>{{.T.Project}} / {{.T.Template}} <span style="color:var(--mu)">#{{.T.ID}}</span></h1>
<dl>
<dt>trigger</dt><dd>{{.Trigger}}</dd>
{{if .T.Commit}}<dt>commit</dt><dd>{{if .CommitURL}}<a href="{{.CommitURL}}" rel="noreferrer">{{.Short}}</a>{{else}}{{.Short}}{{end}}{{if .T.Branch}} on {{.T.Branch}}{{end}}</dd>{{else if .T.Branch}}<dt>branch</dt><dd>{{.T.Branch}}</dd>{{end}}
<dt>created</dt><dd>{{.Created}}</dd>
<dt>duration</dt><dd id="duration">{{if .Duration}}{{.Duration}}{{else}}–{{end}}</dd>
{{if ge .T.ExitCode 0}}{{if .Terminal}}<dt>exit code</dt><dd>{{.T.ExitCode}}</dd>{{end}}{{end}}
</dl>
<p class="msg" id="message"{{if not .T.Message}} hidden{{end}}>{{.T.Message}}</p>
</header>
<div id="bar"><span id="range">{{if .Last}}lines {{.First}}–<span id="last">{{.Last}}</span> of <span id="total">{{.T.LogLines}}</span>{{else}}no output yet{{end}}</span>{{if gt .First 1}}<button id="more" type="button">show earlier lines</button>{{end}}</div>
<div id="log">{{.Log}}</div>
<script>
(function(){
var d=document,b=d.body,log=d.getElementById("log"),st=d.getElementById("status");
var id=b.dataset.id,q=b.dataset.q,first=+b.dataset.first,last=+b.dataset.last;
function bottom(){return log.scrollTop+log.clientHeight>=log.scrollHeight-60}
function toBottom(){log.scrollTop=log.scrollHeight}
function count(){b.dataset.lines=log.childElementCount}
function setStatus(s,msg){st.textContent=s;st.className="s "+s;b.dataset.status=s;d.title=d.title.replace(/ \S+$/," "+s);
 if(msg){var m=d.getElementById("message");m.textContent=msg;m.hidden=false}}
function range(){var r=d.getElementById("range");r.textContent="lines "+first+"–"+last+" of "+last}
var more=d.getElementById("more");
if(more)more.onclick=function(){more.disabled=true;
 fetch("/tasks/"+id+"/log?before="+first+"&limit=2000&"+q).then(function(r){if(!r.ok)throw new Error(r.status);return r.text()}).then(function(h){
  var y=log.scrollHeight-log.scrollTop;log.insertAdjacentHTML("afterbegin",h);
  first=Math.max(1,first-2000);log.scrollTop=log.scrollHeight-y;count();range();
  if(first<=1)more.remove();else more.disabled=false}).catch(function(e){more.textContent="failed ("+e.message+"); retry";more.disabled=false})};
if(b.dataset.terminal!=="true"&&window.EventSource){
 var es=new EventSource("/tasks/"+id+"/events?from="+(last+1)+"&"+q);
 es.addEventListener("lines",function(e){var atb=bottom(),a=JSON.parse(e.data),h="";
  for(var i=0;i<a.length;i++)h+="<div>"+a[i].h+"</div>";
  log.insertAdjacentHTML("beforeend",h);last=a[a.length-1].n;if(!first)first=a[0].n;
  b.dataset.live=+b.dataset.live+a.length;count();range();
  if(b.dataset.status==="waiting"||b.dataset.status==="starting")setStatus("running");
  if(atb)toBottom()});
 es.addEventListener("status",function(e){var s=JSON.parse(e.data);es.close();setStatus(s.status,s.message);
  if(s.duration)d.getElementById("duration").textContent=s.duration;b.dataset.terminal="true"});
}
toBottom();
try{new PerformanceObserver(function(l){l.getEntries().forEach(function(e){if(e.name==="first-contentful-paint")b.dataset.fcp=Math.round(e.startTime)})}).observe({type:"paint",buffered:true})}catch(e){}
})();
</script>
</body></html>
`))

// renderPage writes the task page of t with its log tail lines. query is
// added to the page's own requests; commit links the commit ("" none).
func renderPage(w io.Writer, t state.Task, lines []state.LogLine, query, commit string) error {
	var logHTML bytes.Buffer
	writeLines(&logHTML, lines)
	d := pageData{
		T: t, CommitURL: commit, Duration: durationText(t, time.Now()),
		Created: t.Created.UTC().Format("2006-01-02 15:04:05 UTC"),
		Log:     template.HTML(logHTML.String()), Query: query, Terminal: t.Status.Terminal(),
		CSS: template.CSS(colourCSS),
	}
	d.Trigger = string(t.Trigger.Type)
	if t.Trigger.PR != 0 {
		d.Trigger += fmt.Sprintf(" #%d", t.Trigger.PR)
	}
	if t.Trigger.Actor != "" {
		d.Trigger += " by " + t.Trigger.Actor
	}
	d.Short = t.Commit
	if len(d.Short) > 12 {
		d.Short = d.Short[:12]
	}
	if len(lines) > 0 {
		d.First, d.Last = lines[0].N, lines[len(lines)-1].N
	}
	d.Count = len(lines)
	return pageTmpl.Execute(w, d)
}

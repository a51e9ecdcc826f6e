"""The challenge interstitial: a small page whose script does the proof of work, then moves on.

No external assets. The puzzle travels in a ``<meta name="seawall-challenge">`` tag, read by
the script through the DOM and by lab clients through ``parse_challenge``, so nothing
attacker-controlled is ever written into script text. The script is constant, which lets the
Content-Security-Policy allow it (and the style) by hash rather than by 'unsafe-inline'.

The SHA-256 is hand-written: crypto.subtle exists only in secure contexts and costs a promise
per hash, far too slow for a brute force. It runs in a Worker made from a Blob, or in the page
in chunks when Workers are unavailable.
"""

from __future__ import annotations

import base64
import hashlib
import html
import re

from seawall.core.challenge import MAX_BITS, PASS_COOKIE, PASS_PATH, Puzzle

MAX_RETURN_PATH = 2048

# SHA-256 (FIPS 180-4) and the search, in one function: its source text also seeds the Worker,
# and the tests and bench run it alone.
# K and H0 are the fractional parts of the cube and square roots of the first 64 primes.
CORE_JS = """function core(){
var K=new Int32Array(64),H0=new Int32Array(8),W=new Int32Array(64),S=new Int32Array(8),
B=new Uint8Array(320),n=0,p=2,d;
for(;n<64;p++){for(d=2;d*d<=p&&p%d;d++);if(d*d>p){if(n<8)H0[n]=Math.sqrt(p)*4294967296|0;
K[n++]=Math.cbrt(p)*4294967296|0}}
function hash(len){var end=(len+72)&~63,i,j,a,b,c,d,e,f,g,h,x,y,t1,t2,q=len*8;B[len]=128;
for(i=len+1;i<end;i++)B[i]=0;B[end-4]=q>>>24;B[end-3]=q>>>16&255;B[end-2]=q>>>8&255;
B[end-1]=q&255;S.set(H0);for(j=0;j<end;j+=64){
for(i=0;i<16;i++)W[i]=B[j+4*i]<<24|B[j+4*i+1]<<16|B[j+4*i+2]<<8|B[j+4*i+3];
for(i=16;i<64;i++){x=W[i-15];y=W[i-2];W[i]=((x>>>7|x<<25)^(x>>>18|x<<14)^x>>>3)+
((y>>>17|y<<15)^(y>>>19|y<<13)^y>>>10)+W[i-16]+W[i-7]|0}
a=S[0];b=S[1];c=S[2];d=S[3];e=S[4];f=S[5];g=S[6];h=S[7];
for(i=0;i<64;i++){t1=h+((e>>>6|e<<26)^(e>>>11|e<<21)^(e>>>25|e<<7))+(e&f^~e&g)+K[i]+W[i]|0;
t2=((a>>>2|a<<30)^(a>>>13|a<<19)^(a>>>22|a<<10))+(a&b^a&c^b&c)|0;
h=g;g=f;f=e;e=d+t1|0;d=c;c=b;b=a;a=t1+t2|0}
S[0]+=a;S[1]+=b;S[2]+=c;S[3]+=d;S[4]+=e;S[5]+=f;S[6]+=g;S[7]+=h}return S}
return function(seed,bits,from,count){var L=seed.length+1,i,s,m;
for(i=0;i<L-1;i++)B[i]=seed.charCodeAt(i)&255;B[L-1]=58;
for(m=from+count;from<m;from++){s=String(from);
for(i=0;i<s.length;i++)B[L+i]=s.charCodeAt(i);
if(bits==0||hash(L+s.length)[0]>>>32-bits==0)return from}return -1}}"""

# The page: read the puzzle, search in a Worker (or in chunks here), then claim the pass.
_SCRIPT = (
    CORE_JS
    + """
(function(){var m=document.querySelector('meta[name="seawall-challenge"]'),
seed=m.getAttribute("content"),bits=+m.getAttribute("data-bits"),
to=m.getAttribute("data-to"),out=document.getElementById("progress"),STEP=50000,MAX=4294967296;
function show(n){out.textContent="Working\\u2026 "+n.toLocaleString()+" tries so far."}
function fail(){out.textContent="This is taking too long. Please reload the page."}
function done(n){out.textContent="Done. Taking you to the page\\u2026";
location.replace("PASS_PATH?seed="+encodeURIComponent(seed)+"&nonce="+n+
"&to="+encodeURIComponent(to))}
function inPage(){var search=core(),n=0;(function step(){var r=search(seed,bits,n,STEP/5);
if(r>=0)return done(r);n+=STEP/5;if(n>=MAX)return fail();show(n);setTimeout(step,0)})()}
try{var w=new Worker(URL.createObjectURL(new Blob(["var search=("+core+")();"+
"onmessage=function(e){var d=e.data,n=0,r;for(;n<"+MAX+";n+="+STEP+"){"+
"r=search(d.seed,d.bits,n,"+STEP+");if(r>=0)return postMessage({done:r});"+
"postMessage({tried:n+"+STEP+"})}postMessage({tried:-1})}"],{type:"text/javascript"})));
w.onmessage=function(e){var d=e.data;if("done" in d)done(d.done);
else if(d.tried<0)fail();else show(d.tried)};
w.onerror=function(e){e.preventDefault();w.terminate();inPage()};
w.postMessage({seed:seed,bits:bits})}catch(e){inPage()}})();"""
).replace("PASS_PATH", PASS_PATH)

_STYLE = (
    "body{font:16px/1.5 system-ui,sans-serif;max-width:34em;margin:4em auto;padding:0 1em;"
    "color:#222;background:#fff}h1{font-size:1.4em}#progress{color:#555}"
)


def _csp_hash(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


# Only the inline script and style by hash, and Workers from blob:. Nothing is fetched.
CHALLENGE_CSP = (
    f"default-src 'none'; script-src {_csp_hash(_SCRIPT)}; style-src {_csp_hash(_STYLE)}; "
    "worker-src blob:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)

CHALLENGE_HEADERS: tuple[tuple[str, str], ...] = (
    ("Content-Type", "text/html; charset=utf-8"),
    ("Cache-Control", "no-store"),
    ("Content-Security-Policy", CHALLENGE_CSP),
    ("X-Frame-Options", "DENY"),
    ("Referrer-Policy", "no-referrer"),
    ("X-Content-Type-Options", "nosniff"),
)

_PAGE = (
    "<!doctype html>\n<html lang=en><head><meta charset=utf-8>\n"
    "<meta name=viewport content='width=device-width,initial-scale=1'>\n"
    "<meta name=robots content=noindex>\n"
    '<meta name="seawall-challenge" content="{seed}" data-bits="{bits}" data-to="{to}">\n'
    "<title>Checking your browser</title>\n<style>{style}</style></head>\n<body><main>\n"
    "<h1>Checking your browser</h1>\n"
    "<p>This site is under heavy load, so before letting you in it asks your browser to do a "
    "small calculation. It takes a few seconds and you only need to do it once.</p>\n"
    "<p id=progress role=status aria-live=polite>Starting\u2026</p>\n"
    "<noscript><p><strong>This check needs JavaScript.</strong> The site is under heavy load "
    "or under attack, and lets in only browsers that can run this check. Please enable "
    "JavaScript, or try again in a minute.</p><p>If you are using the API, send your API "
    "token; token requests are not asked to do this.</p></noscript>\n"
    "</main><script>{script}</script></body></html>\n"
)


def safe_return_path(raw: str) -> str:
    """``raw`` if it is a path on this site ("/..."), else "/": no open redirects."""
    if not raw or len(raw) > MAX_RETURN_PATH or raw[0] != "/":
        return "/"
    if raw.startswith(("//", "/\\")):  # scheme-relative: another host
        return "/"
    if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in raw):  # browsers strip tabs and newlines
        return "/"
    return raw


def challenge_page(puzzle: Puzzle, to: str) -> bytes:
    """The interstitial body (UTF-8) that solves ``puzzle`` and then returns to ``to``."""
    return _PAGE.format(
        seed=html.escape(puzzle.seed, quote=True),
        bits=int(puzzle.bits),
        to=html.escape(safe_return_path(to), quote=True),
        style=_STYLE,
        script=_SCRIPT,
    ).encode("utf-8")


_META = re.compile(
    rb'<meta name="seawall-challenge" content="([^"<>]{1,400})" '
    rb'data-bits="([0-9]{1,2})" data-to="([^"<>]{0,20000})">'
)


def parse_challenge(page: bytes) -> tuple[str, int, str] | None:
    """(seed, bits, to) from a challenge page, for lab clients; None if it is not one."""
    found = _META.search(page, 0, 65536)
    if found is None:
        return None
    bits = int(found.group(2))
    if bits > MAX_BITS:
        return None
    seed, to = (html.unescape(g.decode("utf-8", "replace")) for g in found.group(1, 3))
    return seed, bits, to


def pass_set_cookie(value: str, ttl: float, *, secure: bool = True) -> tuple[str, str]:
    """The Set-Cookie header for a pass: site-wide, hidden from scripts, sent on top-level use."""
    attrs = f"; Path=/; Max-Age={max(0, int(ttl))}; HttpOnly; SameSite=Lax"
    return ("Set-Cookie", f"{PASS_COOKIE}={value}{attrs}{'; Secure' if secure else ''}")

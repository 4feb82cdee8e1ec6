// The main user flow under an open-loop load (k6, run by scripts/load.sh): each of USERS people
// has logged in once (setup) and keeps a connection of their own; requests arrive at RATE per
// second whatever the answers' speed (constant arrival rate: slow answers are not hidden by
// coordinated omission), so each person sends their next request after a think time of about
// USERS / RATE seconds. The mix is what a day of the app looks like: mostly reading one's own
// journal and the community, some writing, a little talking to the companion.
import http from "k6/http";
import { check } from "k6";
import exec from "k6/execution";

const BASE = __ENV.BASE_URL;
const USERS = Number(__ENV.USERS || 1000);
const RATE = Number(__ENV.RATE || 1000);
const DURATION = __ENV.DURATION || "60s";
const PASSWORD = "load test password";

// [weight, kind, name, request(person)]
const MIX = [
  [20, "read", "GET /emotions", (p) => ["GET", "/api/v1/emotions?limit=20"]],
  [10, "read", "GET /emotions/stats", (p) => ["GET", "/api/v1/emotions/stats"]],
  [15, "write", "POST /emotions", (p) => ["POST", "/api/v1/emotions", { emotion: "calm", intensity: 3, note: "오늘은 조금 나았다", tags: ["산책"] }]],
  [20, "read", "GET /community/posts", (p) => ["GET", "/api/v1/community/posts?limit=20"]],
  [15, "read", "GET /notifications", (p) => ["GET", "/api/v1/notifications?limit=20"]],
  [15, "read", "GET /users/me", (p) => ["GET", "/api/v1/users/me"]],
  [5, "write", "POST /chat/…/messages", (p) => ["POST", `/api/v1/chat/conversations/${p.conversation}/messages`, { content: "오늘 좀 지쳤어" }]],
];
const TOTAL = MIX.reduce((sum, [w]) => sum + w, 0);

export const options = {
  setupTimeout: "10m",
  scenarios: {
    flow: {
      executor: "constant-arrival-rate",
      rate: RATE,
      timeUnit: "1s",
      duration: DURATION,
      preAllocatedVUs: USERS,
      maxVUs: USERS,
    },
  },
  thresholds: Object.assign({
    "http_req_duration{kind:read}": [`p(99)<${__ENV.READ_P99 || 25}`],
    "http_req_duration{kind:write}": [`p(99)<${__ENV.WRITE_P99 || 50}`],
    "checks": ["rate==1"],
    "dropped_iterations": ["count==0"],
  // Each request of the mix reported on its own (no bound: the kinds above are the goals).
  }, Object.fromEntries(MIX.map(([, , name]) => [`http_req_duration{name:${name}}`, ["p(99)>=0"]]))),
  summaryTrendStats: ["avg", "p(50)", "p(90)", "p(99)", "max"],
  discardResponseBodies: true,
};

// Everyone logs in once (their accounts were made by scripts/load.sh) and gets a conversation.
export function setup() {
  const people = [];
  for (let start = 0; start < USERS; start += 50) {
    const batch = [];
    for (let i = start; i < Math.min(start + 50, USERS); i++) {
      batch.push(["POST", `${BASE}/api/v1/auth/login`, JSON.stringify({ email: `load${i}@example.com`, password: PASSWORD }),
        { headers: { "content-type": "application/json" }, responseType: "text" }]);
    }
    for (const r of http.batch(batch)) {
      if (r.status !== 200) throw new Error(`login: ${r.status} ${r.body}`);
      people.push({ token: r.json("data.tokens.access_token") });
    }
  }
  for (let start = 0; start < USERS; start += 50) {
    const batch = people.slice(start, start + 50).map((p) => ["POST", `${BASE}/api/v1/chat/conversations`, "{}",
      { headers: { "content-type": "application/json", authorization: `Bearer ${p.token}` }, responseType: "text" }]);
    http.batch(batch).forEach((r, j) => {
      if (r.status !== 201) throw new Error(`conversation: ${r.status} ${r.body}`);
      people[start + j].conversation = r.json("data.id");
    });
  }
  return people;
}

export default function (people) {
  // VU n is person n: their own connection, their own token.
  const person = people[(exec.vu.idInTest - 1) % people.length];
  let pick = Math.random() * TOTAL;
  const [, kind, name, make] = MIX.find(([w]) => (pick -= w) < 0);
  const [method, path, body] = make(person);
  const response = http.request(method, `${BASE}${path}`, body ? JSON.stringify(body) : null, {
    headers: { authorization: `Bearer ${person.token}`, "content-type": "application/json" },
    tags: { kind, name },
  });
  check(response, { "2xx": (r) => r.status >= 200 && r.status < 300 }, { kind, name });
}

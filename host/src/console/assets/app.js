// The Clientele console: one ES module, no framework and no build step.
// Every page is drawn from the HTTP API (the session cookie signs the
// requests; writes carry the session's CSRF token). Text is English or
// Simplified Chinese; money is in the store's currency and times in its
// time zone. Nothing is written into the page as HTML: elements are built
// with `h`, so what a customer or a plugin wrote is always text.

// Every text in English and in Simplified Chinese, side by side.
const TEXT = {
  overview: ['Overview', '概览'],
  customers: ['Customers', '客户'],
  plugins: ['Plugins', '插件'],
  surveys: ['Surveys', '问卷'],
  messages: ['Messages', '消息'],
  ops: ['Ops', '运维'],
  installs: ['Installs', '安装'],
  models: ['Population models', '群体模型'],
  fittedAsOf: ['Fitted as of', '拟合截至'],
  model: ['Parameters (± standard error)', '参数（± 标准误）'],
  lastFit: ['Last fit', '最近一次拟合'],
  cluster: ['Cluster', '集群'],
  stores: ['Stores', '店铺'],
  signOut: ['Sign out', '退出登录'],
  language: ['Language', '语言'],
  customersCount: ['Customers', '客户数'],
  pointsIssued: ['Points issued', '发放积分'],
  pointsRedeemed: ['Points redeemed', '兑换积分'],
  pointsExpired: ['Points expired', '过期积分'],
  atRisk: ['Customers at risk', '流失风险客户'],
  eventsOrders: ['Events and orders per day', '每日事件与订单'],
  events: ['Events', '事件'],
  orders: ['Orders', '订单'],
  pointsPerDay: ['Points issued per day', '每日发放积分'],
  npsCsat: ['NPS and CSAT by day', '每日 NPS 与 CSAT'],
  tiers: ['Members by tier', '各等级会员'],
  segments: ['Segment sizes', '分群规模'],
  flows: ['Rescue flows by state', '挽回流程状态'],
  noData: ['Nothing yet.', '暂无数据。'],
  search: ['Search customers', '搜索客户'],
  searchHelp: ['By id, name or e-mail', '按 ID、姓名或邮箱'],
  id: ['ID', 'ID'],
  name: ['Name', '姓名'],
  email: ['E-mail', '邮箱'],
  tier: ['Tier', '等级'],
  points: ['Points', '积分'],
  spend: ['Net spend', '净消费'],
  lastOrder: ['Last order', '最近订单'],
  previous: ['Previous', '上一页'],
  next: ['Next', '下一页'],
  page: ['Page', '第'],
  of: ['of', '页，共'],
  profile: ['Profile', '资料'],
  phone: ['Phone', '电话'],
  birthday: ['Birthday', '生日'],
  tags: ['Tags', '标签'],
  ledger: ['Points ledger', '积分明细'],
  when: ['When', '时间'],
  kind: ['Kind', '类型'],
  reason: ['Reason', '原因'],
  expires: ['Expires', '到期'],
  retention: ['Retention', '客户保持'],
  cohorts: ['Cohorts: share of each cohort active per period', '同期群：各期活跃占比'],
  cohort: ['Cohort', '同期群'],
  rates: ['Rates by period', '各期比率'],
  periodKind: ['Periods', '周期'],
  month: ['Months', '月'],
  week: ['Weeks', '周'],
  from: ['From', '起'],
  to: ['To', '止'],
  show: ['Show', '查看'],
  active: ['Active', '活跃'],
  newCustomers: ['New', '新客'],
  returning: ['Returning', '回头客'],
  retained: ['Retained', '保持'],
  retentionRate: ['Retention rate', '保持率'],
  churnRate: ['Churn rate', '流失率'],
  repeatRate: ['Repeat rate', '回头率'],
  complaintRate: ['Complaint rate', '抱怨率'],
  revenue: ['Revenue', '收入'],
  returningShare: ['Returning share', '回头客收入占比'],
  complaints: ['Complaints', '投诉'],
  openComplaints: ['Open complaints', '未解决投诉'],
  overdue: ['Overdue', '已超时'],
  category: ['Category', '类别'],
  severity: ['Severity', '严重程度'],
  filed: ['Filed', '提出'],
  due: ['Due', '期限'],
  resolved: ['Resolved', '已解决'],
  slaMet: ['SLA met', '按时解决'],
  yes: ['yes', '是'],
  no: ['no', '否'],
  segmentsOf: ['Segments', '所属分群'],
  attributes: ['Attributes', '属性'],
  churn: ['Churn risk', '流失风险'],
  pAlive: ['P(alive)', '存活概率'],
  grade: ['Value grade', '价值等级'],
  loyaltyType: ['Loyalty type', '忠诚类型'],
  expectedPurchases: ['Expected purchases', '预期购买次数'],
  expectedValue: ['Expected spend per purchase', '预期客单价'],
  clv: ['Lifetime value (CLV)', '客户终身价值'],
  rescueWorth: ['Rescue worth / cost', '挽救收益 / 成本'],
  risk: ['Risk', '风险'],
  flowHistory: ['Rescue flow', '挽回流程'],
  answers: ['Survey answers', '问卷回答'],
  survey: ['Survey', '问卷'],
  score: ['Score', '得分'],
  sent: ['Messages sent', '已发送消息'],
  channel: ['Channel', '渠道'],
  template: ['Template', '模板'],
  state: ['State', '状态'],
  installed: ['Installed plugins', '已安装插件'],
  catalogue: ['Catalogue', '插件目录'],
  world: ['World', '扩展点'],
  version: ['Version', '版本'],
  capabilities: ['Capabilities', '能力'],
  scopes: ['Data it asks for', '请求的数据'],
  install: ['Install', '安装'],
  configure: ['Configure', '配置'],
  enable: ['Enable', '启用'],
  disable: ['Disable', '停用'],
  rollBack: ['Roll back', '回滚'],
  swap: ['Swap to', '切换为'],
  save: ['Save', '保存'],
  config: ['Configuration', '配置'],
  installTitle: ['Install', '安装'],
  installed_ok: ['Installed.', '已安装。'],
  saved: ['Saved.', '已保存。'],
  rolledBack: ['Rolled back.', '已回滚。'],
  history: ['History', '历史'],
  calls: ['Calls', '调用'],
  failures: ['Failures', '失败'],
  p50: ['p50', 'p50'],
  p99: ['p99', 'p99'],
  newSurvey: ['New survey', '新建问卷'],
  questions: ['Questions (one per line)', '题目（每行一个）'],
  create: ['Create', '创建'],
  report: ['Report', '报告'],
  responses: ['Responses', '回答数'],
  promoters: ['Promoters', '推荐者'],
  passives: ['Passives', '中立者'],
  detractors: ['Detractors', '贬损者'],
  distribution: ['Distribution', '分布'],
  gapItem: ['Expectation gap per item', '各项期望差距'],
  meanGap: ['Mean gap', '平均差距'],
  kanoTitle: ['Kano: better / worse', 'Kano：满意度提升 / 不满意度'],
  better: ['Better', '提升'],
  worse: ['Worse', '不满'],
  category: ['Category', '类别'],
  outbox: ['Outbox', '发件箱'],
  delivery: ['Delivery', '投递'],
  sink: ['Sink', '投递目标'],
  deliverySettings: ['Delivery settings', '投递设置'],
  logSink: ['The server log', '服务器日志'],
  secret: ['Signing secret', '签名密钥'],
  secretHelp: ['At least 16 characters; each delivery is signed with it (HMAC-SHA256).', '至少 16 个字符；每次投递都用它签名（HMAC-SHA256）。'],
  publish: ['Publish a version', '发布版本'],
  manifest: ['plugin.toml', 'plugin.toml'],
  component: ['Component (.wasm)', '组件 (.wasm)'],
  runningIn: ['Running in', '运行于'],
  published: ['Published', '发布时间'],
  contract: ['Contract', '契约'],
  health: ['Install health', '安装健康'],
  store: ['Store', '店铺'],
  byCode: ['Failures by code', '按错误码统计失败'],
  node: ['Node', '节点'],
  heartbeat: ['Heartbeat', '心跳'],
  holds: ['Holds', '持有'],
  none: ['none', '无'],
  yes: ['yes', '是'],
  no: ['no', '否'],
  failed: ['Something went wrong', '出错了'],
  fixFields: ['Fix the fields marked below.', '请修改下面标出的字段。'],
  enabled: ['Enabled', '已启用'],
  grants: ['Grant scopes', '授予数据范围'],
  currency: ['Currency', '币种'],
  timezone: ['Time zone', '时区'],
  created: ['Created.', '已创建。'],
  open: ['Open', '打开'],
  breaker: ['Breaker', '熔断'],
  jsonHelp: ['JSON', 'JSON'],
  required: ['required', '必填'],
  noStores: ['No stores yet.', '还没有店铺。'],
  version_: ['version', '版本'],
  window: ['Period', '时间范围'],
  days: ['days', '天'],
  privacy: ['Privacy', '隐私'],
  dataRights: ['Data rights', '数据权利'],
  exportData: ['Download everything held about them (JSON)', '下载其全部数据（JSON）'],
  erase: ['Erase this customer', '删除该客户的个人信息'],
  eraseConfirm: ['Erase every copy of this customer\'s personal data? Orders, points and counts stay under a pseudonym; this cannot be undone.', '删除该客户个人信息的所有副本？订单、积分和统计以假名保留；此操作无法撤销。'],
  erased: ['Erased; kept records now carry', '已删除；保留的记录现使用假名'],
  erasures: ['Erasures', '删除记录'],
  pseudonym: ['Pseudonym', '假名'],
  by: ['By', '操作者'],
  piiReads: ['Who read personal data', '谁读取了个人信息'],
  piiReadsHelp: ['Profiles with an e-mail, phone, name or birthday returned through the API, per key or console session.', '通过 API 返回的含邮箱、电话、姓名或生日的客户资料数，按密钥或控制台会话统计。'],
  reader: ['Key or session', '密钥或会话'],
  last30: ['Last 30 days', '近 30 天'],
  total: ['In all', '累计'],
  lastRead: ['Last read', '最近读取'],
  retentionDays: ['Keep raw events for (days; empty: for ever)', '原始事件保留天数（留空：永久）'],
  retentionHelp: ['A daily job deletes older events and their outcomes; points, orders and segments they caused stay.', '每日任务删除更早的事件及其结果；由它们产生的积分、订单和分群保留。'],
  piiFields: ['Personal fields of your own event types (comma-separated)', '自定义事件中的个人信息字段（逗号分隔）'],
};

let session = { role: null, store: null, csrf: '', lang: 'en' };
let store = { id: '', name: '', currency: 'USD', timezone: 'UTC' };
const lang = () => (session.lang === 'zh' ? 'zh' : 'en');
const locale = () => (lang() === 'zh' ? 'zh-CN' : 'en');
const t = (key) => TEXT[key]?.[lang() === 'zh' ? 1 : 0] ?? key;

// --- DOM -----------------------------------------------------------------

/** An element of namespace `ns` (HTML when null): attributes (`on…` are
 * listeners; null, undefined and false are left out), then children (text
 * for anything that is not a node). */
function make(ns, tag, attrs, kids) {
  const el = ns ? document.createElementNS(ns, tag) : document.createElement(tag);
  for (const [k, v] of Object.entries(attrs ?? {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const kid of kids.flat(Infinity)) {
    if (kid === null || kid === undefined || kid === false) continue;
    el.append(kid instanceof Node ? kid : document.createTextNode(String(kid)));
  }
  return el;
}

const h = (tag, attrs, ...kids) => make(null, tag, attrs, kids);
const s = (tag, attrs, ...kids) => make('http://www.w3.org/2000/svg', tag, attrs, kids);

// --- formatting ------------------------------------------------------------

function money(cents) {
  if (cents === null || cents === undefined) return '—';
  try {
    return new Intl.NumberFormat(locale(), { style: 'currency', currency: store.currency, currencyDisplay: 'narrowSymbol' })
      .format(Number(cents) / 100);
  } catch {
    return `${(Number(cents) / 100).toFixed(2)} ${store.currency}`;
  }
}

const num = (n) => (n === null || n === undefined ? '—' : new Intl.NumberFormat(locale()).format(n));

function when(iso) {
  if (!iso) return '—';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  try {
    return new Intl.DateTimeFormat(locale(), { timeZone: store.timezone || 'UTC', dateStyle: 'medium', timeStyle: 'short' }).format(d);
  } catch {
    return d.toISOString();
  }
}

const badge = (text) => h('span', { class: `badge ${text}` }, text);

// --- the API ---------------------------------------------------------------

class ApiFailure extends Error {
  constructor(status, problem) {
    super(problem?.detail ?? `HTTP ${status}`);
    this.status = status;
    this.problem = problem ?? {};
  }
}

async function api(method, path, body) {
  const init = { method, headers: { Accept: 'application/json' }, credentials: 'same-origin' };
  if (method !== 'GET') init.headers['X-CSRF-Token'] = session.csrf;
  if (body instanceof FormData) init.body = body;
  else if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  const r = await fetch(path, init);
  const text = await r.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = { detail: text };
  }
  if (r.status === 401) {
    location.assign('/sign-in');
    throw new ApiFailure(401, data);
  }
  if (!r.ok) throw new ApiFailure(r.status, data);
  return data;
}

const enc = encodeURIComponent;
const storeApi = (path) => `/v1/stores/${enc(store.id)}${path}`;

// --- charts (inline SVG) ------------------------------------------------------

function chartFrame(title, width, height, kids) {
  return s('svg', { class: 'chart', viewBox: `0 0 ${width} ${height}`, role: 'img', 'aria-label': title },
    s('title', {}, title), kids);
}

/** Vertical bars, one group per label; `series` is [{key, alt}]. */
function bars(title, rows, series) {
  if (!rows.length) return h('p', { class: 'muted' }, t('noData'));
  const W = 640, H = 200, pad = 28;
  const max = Math.max(1, ...rows.flatMap((r) => series.map((x) => Number(r[x.key] ?? 0))));
  const slot = (W - pad) / rows.length;
  const bw = Math.max(1, (slot - 2) / series.length);
  const kids = [s('line', { class: 'axis', x1: pad, y1: H - 20, x2: W, y2: H - 20 }),
    s('text', { x: 0, y: 12 }, num(max))];
  rows.forEach((r, i) => {
    series.forEach((x, j) => {
      const v = Number(r[x.key] ?? 0);
      const bh = ((H - 40) * v) / max;
      kids.push(s('rect', { class: x.alt ? 'bar alt' : 'bar', x: pad + i * slot + j * bw, y: H - 20 - bh, width: Math.max(bw - 1, 1), height: bh },
        s('title', {}, `${r.label}: ${num(v)}`)));
    });
    const every = Math.ceil(rows.length / 8);
    if (i % every === 0) kids.push(s('text', { x: pad + i * slot, y: H - 5 }, r.label));
  });
  return chartFrame(title, W, H, kids);
}

/** Horizontal bars of named counts. */
function hbars(title, items) {
  if (!items.length) return h('p', { class: 'muted' }, t('noData'));
  const W = 640, row = 24, H = items.length * row + 8, left = 170;
  const max = Math.max(1, ...items.map((i) => i.count));
  const kids = items.map((it, k) => [
    s('text', { x: 0, y: k * row + 16 }, it.name.length > 26 ? `${it.name.slice(0, 25)}…` : it.name),
    s('rect', { class: 'bar', x: left, y: k * row + 4, height: row - 8, width: Math.max(((W - left - 60) * it.count) / max, 1) },
      s('title', {}, `${it.name}: ${num(it.count)}`)),
    s('text', { x: left + ((W - left - 60) * it.count) / max + 6, y: k * row + 16 }, num(it.count)),
  ]);
  return chartFrame(title, W, H, kids);
}

/** Lines over days, gaps where a day has no value. */
function lines(title, rows, series, min, max) {
  const have = rows.some((r) => series.some((x) => r[x.key] !== null && r[x.key] !== undefined));
  if (!have) return h('p', { class: 'muted' }, t('noData'));
  const W = 640, H = 200, pad = 34;
  const x = (i) => pad + (i * (W - pad - 10)) / Math.max(rows.length - 1, 1);
  const y = (v) => H - 20 - ((H - 40) * (v - min)) / (max - min);
  const kids = [s('line', { class: 'axis', x1: pad, y1: y(0), x2: W, y2: y(0) }),
    s('text', { x: 0, y: y(max) + 4 }, String(max)), s('text', { x: 0, y: y(min) + 4 }, String(min))];
  for (const ser of series) {
    let d = '';
    rows.forEach((r, i) => {
      const v = r[ser.key];
      if (v === null || v === undefined) return;
      d += `${d ? 'L' : 'M'}${x(i).toFixed(1)},${y(v).toFixed(1)} `;
      kids.push(s('circle', { cx: x(i), cy: y(v), r: 3, class: ser.alt ? 'line alt' : 'line' }, s('title', {}, `${r.label} ${ser.key}: ${v}`)));
    });
    kids.push(s('path', { d, class: ser.alt ? 'line alt' : 'line' }));
  }
  const every = Math.ceil(rows.length / 8);
  rows.forEach((r, i) => { if (i % every === 0) kids.push(s('text', { x: x(i) - 12, y: H - 4 }, r.label)); });
  return chartFrame(title, W, H, kids);
}

/** The Kano better/worse scatter: |worse| across, better up. */
function kanoScatter(features) {
  const W = 520, H = 420, pad = 40, size = 340;
  const px = (v) => pad + size * v, py = (v) => H - pad - size * v;
  const kids = [
    s('rect', { x: pad, y: H - pad - size, width: size, height: size, fill: 'none', class: 'axis', stroke: '#d9dee7' }),
    s('line', { class: 'axis', x1: px(0.5), y1: py(0), x2: px(0.5), y2: py(1) }),
    s('line', { class: 'axis', x1: px(0), y1: py(0.5), x2: px(1), y2: py(0.5) }),
    s('text', { x: px(0.02), y: py(0.96) }, 'A'), s('text', { x: px(0.94), y: py(0.96) }, 'O'),
    s('text', { x: px(0.94), y: py(0.02) }, 'M'), s('text', { x: px(0.02), y: py(0.02) }, 'I'),
    s('text', { x: pad + size / 2 - 30, y: H - 8 }, `|${t('worse')}|`),
    s('text', { x: 2, y: pad - 8 }, t('better')),
  ];
  for (const [name, f] of Object.entries(features)) {
    if (f.better === null || f.worse === null) continue;
    const cx = px(Math.abs(f.worse)), cy = py(f.better);
    kids.push(s('circle', { cx, cy, r: 6, class: 'bar', 'data-feature': name }, s('title', {}, `${name}: ${f.category} (${f.better}, ${f.worse})`)));
    kids.push(s('text', { x: cx + 8, y: cy + 4 }, `${name} (${f.category})`));
  }
  return chartFrame(t('kanoTitle'), W, H, kids);
}

// --- layout ----------------------------------------------------------------

function pathParts() {
  return location.pathname.split('/').filter(Boolean).map(decodeURIComponent);
}

function navLink(href, label) {
  const here = location.pathname === href || (href.split('/').length > 3 && location.pathname.startsWith(`${href}/`));
  return h('li', {}, h('a', { href, 'aria-current': here ? 'page' : null }, label));
}

function layout(content) {
  const links = [];
  if (store.id) {
    const base = `/stores/${enc(store.id)}`;
    links.push(navLink(base, t('overview')), navLink(`${base}/customers`, t('customers')), navLink(`${base}/plugins`, t('plugins')),
      navLink(`${base}/retention`, t('retention')), navLink(`${base}/surveys`, t('surveys')),
      navLink(`${base}/messages`, t('messages')), navLink(`${base}/privacy`, t('privacy')));
  }
  if (session.role === 'admin') {
    links.push(navLink('/ops', t('plugins') + ' · ' + t('ops')), navLink('/ops/installs', t('health')),
      navLink('/ops/cluster', t('cluster')), navLink('/ops/stores', t('stores')));
  }
  const langSelect = h('select', { id: 'lang', 'aria-label': t('language'), onchange: (e) => setLang(e.target.value) },
    h('option', { value: 'en', selected: lang() === 'en' }, 'English'),
    h('option', { value: 'zh', selected: lang() === 'zh' }, '简体中文'));
  const signOut = h('form', { method: 'post', action: '/sign-out', class: 'inline' },
    h('input', { type: 'hidden', name: 'csrf', value: session.csrf }),
    h('button', { type: 'submit', class: 'secondary' }, t('signOut')));
  return [
    h('header', { class: 'top' },
      h('a', { class: 'brand', href: '/' }, store.id ? `Clientele · ${store.name || store.id}` : 'Clientele'),
      h('nav', { 'aria-label': 'Console' }, h('ul', {}, links)),
      h('div', { class: 'tools' }, langSelect, signOut)),
    h('main', { id: 'page' }, content),
  ];
}

function setLang(code) {
  document.cookie = `clientele_lang=${code}; Path=/; SameSite=Strict; Max-Age=31536000`;
  location.reload();
}

function render(...content) {
  const app = document.getElementById('app');
  app.replaceChildren(...layout(content));
  document.documentElement.lang = locale();
}

function notice(text, bad) {
  return h('p', { class: bad ? 'notice bad' : 'notice', role: bad ? 'alert' : 'status' }, text);
}

/** A failed request as a notice: the problem's detail, then each field's. */
function failure(err) {
  const fields = (err.problem?.errors ?? []).map((x) => ` ${x.field}: ${x.message}`);
  return notice([err.message, ...fields].join(''), true);
}

function flash() {
  const msg = sessionStorage.getItem('flash');
  sessionStorage.removeItem('flash');
  return msg ? notice(msg) : null;
}

function go(path, message) {
  if (message) sessionStorage.setItem('flash', message);
  location.assign(path);
}

function table(headers, rows) {
  return h('table', {},
    h('thead', {}, h('tr', {}, headers.map((x) => h('th', { scope: 'col', class: x.num ? 'num' : null }, x.label ?? x)))),
    h('tbody', {}, rows.length ? rows : h('tr', {}, h('td', { colspan: headers.length, class: 'muted' }, t('noData')))));
}

const td = (v, cls) => h('td', { class: cls }, v);
const stat = (label, value) => h('div', { class: 'stat' }, h('span', { class: 'n' }, value), h('span', { class: 'l' }, label));

// --- merchant pages ----------------------------------------------------------

async function overviewPage() {
  const days = [30, 90, 365].includes(Number(new URLSearchParams(location.search).get('days')))
    ? Number(new URLSearchParams(location.search).get('days')) : 30;
  const [o, segs] = await Promise.all([api('GET', storeApi(`/overview?days=${days}`)), api('GET', storeApi('/segments'))]);
  const rows = o.days.map((d) => ({ ...d, label: days > 90 ? d.day.slice(0, 7) : d.day.slice(5) }));
  const range = h('form', { method: 'get', class: 'row' },
    h('div', {}, h('label', { for: 'days' }, t('window')),
      h('select', { id: 'days', name: 'days', onchange: (e) => e.target.form.submit() },
        [30, 90, 365].map((n) => h('option', { value: n, selected: n === days }, `${n} ${t('days')}`)))));
  render(
    h('h1', {}, t('overview')), flash(), range,
    h('div', { class: 'stats' },
      stat(t('customersCount'), num(o.customers)), stat(t('pointsIssued'), num(o.points.issued)),
      stat(t('pointsRedeemed'), num(o.points.redeemed)), stat(t('pointsExpired'), num(o.points.expired)),
      stat(t('atRisk'), `${num(o.at_risk)} / ${num(o.assessed)}`)),
    h('div', { class: 'grid' },
      h('section', { class: 'card' }, h('h2', {}, t('eventsOrders')),
        bars(t('eventsOrders'), rows, [{ key: 'events' }, { key: 'orders', alt: true }]),
        h('p', { class: 'legend' }, h('span', {}, t('events')), h('span', { class: 'alt' }, t('orders')))),
      h('section', { class: 'card' }, h('h2', {}, t('pointsPerDay')), bars(t('pointsPerDay'), rows, [{ key: 'points_issued' }])),
      h('section', { class: 'card' }, h('h2', {}, t('npsCsat')),
        lines(t('npsCsat'), rows, [{ key: 'nps' }, { key: 'csat', alt: true }], -100, 100),
        h('p', { class: 'legend' }, h('span', {}, 'NPS'), h('span', { class: 'good' }, 'CSAT %'))),
      h('section', { class: 'card' }, h('h2', {}, t('tiers')), hbars(t('tiers'), o.tiers)),
      h('section', { class: 'card' }, h('h2', {}, t('segments')),
        hbars(t('segments'), (segs ?? []).map((x) => ({ name: x.name, count: x.members })))),
      h('section', { class: 'card' }, h('h2', {}, t('flows')), hbars(t('flows'), o.flows))),
  );
}

async function customersPage() {
  const params = new URLSearchParams(location.search);
  const q = params.get('q') ?? '';
  const pageNo = Math.max(1, Number(params.get('page') ?? 1) || 1);
  const per = 25;
  const data = await api('GET', storeApi(`/customers?q=${enc(q)}&offset=${(pageNo - 1) * per}&limit=${per}`));
  const pages = Math.max(1, Math.ceil(data.total / per));
  const link = (p) => `?q=${enc(q)}&page=${p}`;
  render(
    h('h1', {}, t('customers')),
    h('form', { role: 'search', method: 'get', class: 'row' },
      h('div', {}, h('label', { for: 'q' }, t('search')),
        h('input', { id: 'q', name: 'q', type: 'search', value: q, 'aria-describedby': 'q-help' }),
        h('p', { id: 'q-help', class: 'help' }, t('searchHelp'))),
      h('button', { type: 'submit' }, t('search'))),
    table([t('id'), t('name'), t('tier'), { label: t('points'), num: true }, { label: t('orders'), num: true }, { label: t('spend'), num: true }, t('lastOrder')],
      data.customers.map((c) => h('tr', {},
        td(h('a', { href: `/stores/${enc(store.id)}/customers/${enc(c.id)}` }, c.id)), td(c.name ?? '—'), td(c.tier ?? '—'),
        td(num(c.points_balance), 'num'), td(num(c.stats.orders), 'num'), td(money(c.stats.net_spend_cents), 'num'),
        td(when(c.stats.last_order_at))))),
    h('nav', { class: 'pager', 'aria-label': t('page') },
      pageNo > 1 ? h('a', { href: link(pageNo - 1), rel: 'prev' }, t('previous')) : null,
      h('span', {}, `${t('page')} ${pageNo} ${t('of')} ${pages} · ${num(data.total)}`),
      pageNo < pages ? h('a', { href: link(pageNo + 1), rel: 'next' }, t('next')) : null),
  );
}

async function customerPage(id) {
  const base = `/customers/${enc(id)}`;
  const [c, pts, churn, act, complaints] = await Promise.all([
    api('GET', storeApi(base)), api('GET', storeApi(`${base}/points`)),
    api('GET', storeApi(`${base}/churn`)).catch(() => null), api('GET', storeApi(`${base}/activity`)),
    api('GET', storeApi(`${base}/complaints`)).catch(() => []),
  ]);
  const dl = (pairs) => h('dl', {}, pairs.map(([k, v]) => [h('dt', {}, k), h('dd', {}, v ?? '—')]));
  const flow = churn?.flow;
  // The value grade and loyalty type, when the store runs those segmenters.
  const tagged = (prefix) => act.memberships.find((m) => m.segment.startsWith(prefix))?.segment.slice(prefix.length);
  const d = churn?.details ?? {};
  const clv = d.clv_cents !== undefined
    ? [[t('expectedPurchases'), Number(d.expected_purchases).toFixed(2)], [t('expectedValue'), money(d.expected_value_cents)],
      [t('clv'), money(d.clv_cents)]]
    : [];
  if (d.rescue) clv.push([t('rescueWorth'), `${money(d.rescue.worth_cents)} / ${money(d.rescue.cost_cents)}`]);
  render(
    h('h1', {}, c.name ? `${c.name} (${c.id})` : c.id),
    h('div', { class: 'stats' }, stat(t('points'), num(pts.balance)), stat(t('tier'), pts.tier ?? c.tier ?? '—'),
      stat(t('orders'), num(c.stats.orders)), stat(t('spend'), money(c.stats.net_spend_cents)),
      tagged('grade:') ? stat(t('grade'), tagged('grade:')) : null,
      tagged('loyalty:') ? stat(t('loyaltyType'), tagged('loyalty:')) : null),
    h('div', { class: 'grid' },
      h('section', { class: 'card' }, h('h2', {}, t('profile')),
        dl([[t('email'), c.email], [t('phone'), c.phone], [t('birthday'), c.birthday], [t('tags'), c.tags.join(', ') || null],
          [t('lastOrder'), when(c.stats.last_order_at)]])),
      h('section', { class: 'card' }, h('h2', {}, t('segmentsOf')),
        table([t('segments'), t('attributes')], act.memberships.map((m) => h('tr', {}, td(m.segment),
          td(h('code', {}, Object.entries(m.attributes ?? {}).map(([k, v]) => `${k}: ${typeof v === 'object' ? JSON.stringify(v) : v}`).join(' · '))))))),
      h('section', { class: 'card' }, h('h2', {}, t('churn')),
        churn
          ? dl([[t('pAlive'), churn.p_alive.toFixed(3)], [t('risk'), churn.risk.toFixed(3)],
            [t('spend'), money(churn.value_cents)], ...clv, [t('when'), when(churn.as_of)]])
          : h('p', { class: 'muted' }, t('noData')),
        flow ? [h('h2', {}, t('flowHistory')), h('p', {}, badge(flow.state), ' ', flow.id),
          h('ol', {}, (flow.history ?? []).map((n) => h('li', {}, `${when(n.at)} · ${n.what}${n.step !== undefined ? ` ${n.step}` : ''}`)))] : null)),
    h('h2', {}, t('ledger')),
    table([t('when'), t('kind'), { label: t('points'), num: true }, t('reason'), t('expires')],
      pts.entries.slice().reverse().map((e) => h('tr', {}, td(when(e.created_at)), td(e.kind), td(num(e.points), 'num'), td(e.reason), td(when(e.expires_at))))),
    h('h2', {}, t('complaints')),
    complaintsTable(complaints, false),
    h('h2', {}, t('answers')),
    table([t('when'), t('survey'), t('answers'), t('score')],
      act.answers.map((a) => h('tr', {}, td(when(a.submitted_at)), td(a.survey_id), td(h('code', {}, JSON.stringify(a.answers))), td(h('code', {}, a.score ? JSON.stringify(a.score) : '—'))))),
    h('h2', {}, t('sent')),
    table([t('when'), t('channel'), t('template'), t('state')],
      act.messages.map((m) => h('tr', {}, td(when(m.created_at)), td(m.channel), td(m.template), td(badge(m.state))))),
    h('h2', {}, t('dataRights')),
    dataRightsCard(c.id),
  );
}

/** A customer's export, as a download, and their erasure. */
function dataRightsCard(id) {
  const status = h('div', { class: 'form-status', 'aria-live': 'polite' });
  const download = h('button', { type: 'button', id: 'export-customer', class: 'secondary' }, t('exportData'));
  download.addEventListener('click', async () => {
    try {
      const doc = await api('GET', storeApi(`/customers/${enc(id)}/export`));
      const url = URL.createObjectURL(new Blob([JSON.stringify(doc, null, 2)], { type: 'application/json' }));
      const a = h('a', { href: url, download: `${store.id}-${id}-export.json` });
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 10000);
    } catch (err) {
      status.replaceChildren(failure(err));
    }
  });
  const erase = h('button', { type: 'button', id: 'erase-customer', class: 'danger' }, t('erase'));
  erase.addEventListener('click', async () => {
    if (!window.confirm(t('eraseConfirm'))) return;
    try {
      const done = await api('DELETE', storeApi(`/customers/${enc(id)}`));
      go(`/stores/${enc(store.id)}/privacy`, `${t('erased')} ${done.pseudonym}`);
    } catch (err) {
      status.replaceChildren(failure(err));
    }
  });
  return h('section', { class: 'card' }, status, h('p', {}, download, ' ', erase));
}

/** The store's retention setting, who read personal data, and erasures. */
async function privacyPage() {
  const [settings, readers, erasures] = await Promise.all([
    api('GET', storeApi('/privacy')), api('GET', storeApi('/pii-reads')), api('GET', storeApi('/erasures')),
  ]);
  const days = h('input', { id: 'p-days', name: 'events_retention_days', type: 'number', min: 1, max: 36500,
    value: settings.events_retention_days ?? '', 'aria-describedby': 'p-days-help' });
  const fields = h('input', { id: 'p-fields', name: 'pii_fields', type: 'text', value: (settings.pii_fields ?? []).join(', ') });
  const form = h('form', { id: 'privacy-form', novalidate: true }, h('div', { class: 'form-status', 'aria-live': 'polite' }),
    h('div', { 'data-field': 'events_retention_days' }, h('label', { for: 'p-days' }, t('retentionDays')), days,
      h('p', { id: 'p-days-help', class: 'help' }, t('retentionHelp'))),
    h('div', { 'data-field': 'pii_fields' }, h('label', { for: 'p-fields' }, t('piiFields')), fields),
    h('p', {}, h('button', { type: 'submit' }, t('save'))));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const body = {
      events_retention_days: days.value.trim() === '' ? null : Number(days.value),
      pii_fields: fields.value.split(',').map((f) => f.trim()).filter(Boolean),
    };
    try {
      await api('PUT', storeApi('/privacy'), body);
      go(location.pathname, t('saved'));
    } catch (err) {
      form.querySelector('.form-status').replaceChildren(failure(err));
    }
  });
  render(
    h('h1', {}, t('privacy')), flash(),
    h('h2', {}, t('piiReads')), h('p', { class: 'help' }, t('piiReadsHelp')),
    table([t('reader'), { label: t('last30'), num: true }, { label: t('total'), num: true }, t('lastRead')],
      readers.map((r) => h('tr', {}, td(r.reader), td(num(r.profiles_30d), 'num'), td(num(r.profiles_total), 'num'), td(when(r.last_read_at))))),
    h('h2', {}, t('erasures')),
    table([t('when'), t('pseudonym'), t('by'), { label: t('events'), num: true }],
      erasures.map((x) => h('tr', {}, td(when(x.erased_at)), td(h('code', {}, x.pseudonym)), td(x.erased_by), td(num(x.erased.events), 'num')))),
    h('h2', {}, t('retention')), h('section', { class: 'card' }, form),
  );
}

/** Complaints with their SLA: filed, due, resolved, and whether it was met. */
function complaintsTable(list, withCustomer) {
  const yesNo = (v) => (v === true ? h('span', { class: 'badge ok' }, t('yes'))
    : v === false ? h('span', { class: 'badge failed' }, t('no')) : '—');
  return table([t('id'), withCustomer ? t('customers') : null, t('category'), { label: t('severity'), num: true }, t('filed'), t('due'),
    t('resolved'), t('slaMet')].filter(Boolean),
  list.map((x) => h('tr', { 'data-complaint': x.id }, td(x.id),
    withCustomer ? td(h('a', { href: `/stores/${enc(store.id)}/customers/${enc(x.customer_id)}` }, x.customer_id)) : null,
    td(x.category), td(num(x.severity), 'num'), td(when(x.filed_at)),
    td([when(x.due_at), x.overdue_seconds !== null && x.overdue_seconds !== undefined ? h('span', { class: 'bad' }, ` · ${t('overdue')}`) : null]),
    td(x.resolved_at ? `${when(x.resolved_at)} · ${x.satisfied ? '🙂' : '🙁'} ${x.resolution ?? ''}` : '—'), td(yesNo(x.sla_met)))));
}

/** A cohort heat map: each cell the share of the cohort active then. */
function heatmap(r) {
  const periods = r.periods.map((p) => p.period);
  const cell = (share, n) => h('td', { class: 'num heat', style: `background: rgba(31, 111, 235, ${(share * 0.85).toFixed(3)}); color: ${share > 0.5 ? '#fff' : 'inherit'}`,
    title: `${num(n)} · ${(share * 100).toFixed(1)}%` }, `${(share * 100).toFixed(0)}%`);
  return table([t('cohort'), { label: t('customersCount'), num: true }, ...periods.map((p) => ({ label: p, num: true }))],
    r.cohorts.map((c) => {
      const skip = periods.indexOf(c.period);
      return h('tr', { 'data-cohort': c.period }, td(c.period), td(num(c.customers), 'num'),
        periods.map((_, i) => (i < skip || skip < 0 ? td('', 'num') : cell(c.shares[i - skip] ?? 0, c.active[i - skip] ?? 0))));
    }));
}

async function retentionPage() {
  const params = new URLSearchParams(location.search);
  const grain = params.get('period') === 'week' ? 'week' : 'month';
  const today = new Date();
  const iso = (d) => d.toISOString().slice(0, 10);
  const back = new Date(Date.UTC(today.getUTCFullYear(), today.getUTCMonth() - 5, 1));
  const from = params.get('from') || iso(back);
  const to = params.get('to') || iso(today);
  const [r, open] = await Promise.all([
    api('GET', storeApi(`/analytics/retention?period=${grain}&from=${enc(from)}&to=${enc(to)}`)),
    api('GET', storeApi('/complaints?state=open')).catch(() => []),
  ]);
  const pct = (v) => (v === null || v === undefined ? '—' : `${(v * 100).toFixed(2)}%`);
  const rows = r.periods.map((p) => ({ ...p, label: p.period }));
  const overdue = open.filter((x) => x.overdue_seconds !== null && x.overdue_seconds !== undefined);
  const form = h('form', { method: 'get', class: 'row' },
    h('div', {}, h('label', { for: 'period' }, t('periodKind')),
      h('select', { id: 'period', name: 'period' }, ['month', 'week'].map((g) => h('option', { value: g, selected: g === grain }, t(g))))),
    h('div', {}, h('label', { for: 'from' }, t('from')), h('input', { id: 'from', name: 'from', type: 'date', value: from })),
    h('div', {}, h('label', { for: 'to' }, t('to')), h('input', { id: 'to', name: 'to', type: 'date', value: to })),
    h('button', { type: 'submit' }, t('show')));
  render(
    h('h1', {}, t('retention')), form,
    h('div', { class: 'stats' }, stat(t('openComplaints'), num(open.length)), stat(t('overdue'), num(overdue.length))),
    h('section', { class: 'card' }, h('h2', {}, t('cohorts')), heatmap(r)),
    h('section', { class: 'card' }, h('h2', {}, t('rates')),
      lines(t('rates'), rows.map((p) => ({ ...p, retention_rate: p.retention_rate === null ? null : p.retention_rate * 100,
        repeat_rate: p.repeat_rate === null ? null : p.repeat_rate * 100 })), [{ key: 'retention_rate' }, { key: 'repeat_rate', alt: true }], 0, 100),
      h('p', { class: 'legend' }, h('span', {}, `${t('retentionRate')} %`), h('span', { class: 'good' }, `${t('repeatRate')} %`))),
    table([t('window'), { label: t('active'), num: true }, { label: t('newCustomers'), num: true }, { label: t('returning'), num: true },
      { label: t('retained'), num: true }, { label: t('retentionRate'), num: true }, { label: t('churnRate'), num: true },
      { label: t('repeatRate'), num: true }, { label: t('complaintRate'), num: true }, { label: t('revenue'), num: true },
      { label: t('returningShare'), num: true }],
    r.periods.map((p) => h('tr', { 'data-period': p.period }, td(p.period), td(num(p.active), 'num'), td(num(p.new), 'num'),
      td(num(p.returning), 'num'), td(num(p.retained), 'num'), td(pct(p.retention_rate), 'num'), td(pct(p.churn_rate), 'num'),
      td(pct(p.repeat_rate), 'num'), td(pct(p.complaint_rate), 'num'), td(money(p.revenue_cents), 'num'),
      td(pct(p.returning_revenue_share), 'num')))),
    h('h2', {}, t('openComplaints')),
    complaintsTable(open, true),
  );
}

/** Each population model: its parameters with their standard errors, or
 * why its last fit was refused. */
function modelsTable(models) {
  const params = (m) => {
    const se = { ...(m.summary?.standard_errors ?? {}), ...(m.summary?.spend_standard_errors ?? {}) };
    return Object.entries(m.summary ?? {})
      .filter(([, v]) => typeof v === 'number')
      .map(([k, v]) => `${k} ${Number(v.toPrecision(4))}` + (typeof se[k] === 'number' ? ` ± ${Number(se[k].toPrecision(2))}` : ''))
      .join(' · ');
  };
  return table([t('plugins'), t('fittedAsOf'), { label: t('customers'), num: true }, t('model')],
    models.map((m) => h('tr', { 'data-model': m.install_id },
      td(m.plugin), td(m.as_of ? when(m.as_of) : '—'), td(num(m.customers), 'num'),
      td([m.as_of ? h('div', {}, params(m)) : null,
        m.last_error ? h('p', { class: 'help bad', 'data-refused': '' }, `${t('lastFit')} ${when(m.last_attempt_at)}: ${m.last_error}`) : null]))));
}

async function pluginsPage() {
  const [catalogue, installs, models] = await Promise.all([api('GET', '/v1/plugins'), api('GET', storeApi('/installs')),
    api('GET', storeApi('/models')).catch(() => [])]);
  const base = `/stores/${enc(store.id)}`;
  const act = async (fn, message) => {
    try {
      await fn();
      go(location.pathname, message);
    } catch (e) {
      document.getElementById('plugins-error')?.replaceChildren(notice(e.message, true));
    }
  };
  render(
    h('h1', {}, t('plugins')), flash(), h('div', { id: 'plugins-error' }),
    h('h2', {}, t('installed')),
    table([t('plugins'), t('world'), t('state'), { label: t('calls'), num: true }, { label: t('failures'), num: true }, ''],
      installs.map((i) => h('tr', { 'data-install': i.install_id },
        td(`${i.plugin}@${i.version}`), td(i.world), td([badge(i.state), i.disabled_reason ? h('p', { class: 'help' }, i.disabled_reason) : null]),
        td(num(i.counters.invocations), 'num'), td(num(i.counters.failures), 'num'),
        td(h('div', { class: 'row' },
          h('a', { class: 'button secondary', href: `${base}/installs/${enc(i.install_id)}` }, t('configure')),
          h('button', { type: 'button', class: 'secondary', onclick: () => act(() => api('PATCH', storeApi(`/installs/${enc(i.install_id)}`), { enabled: !i.enabled }), t('saved')) },
            i.enabled ? t('disable') : t('enable')),
          h('button', { type: 'button', class: 'danger', onclick: () => act(() => api('POST', storeApi(`/installs/${enc(i.install_id)}/rollback`), {}), t('rolledBack')) },
            t('rollBack'))))))),
    models.length ? h('h2', {}, t('models')) : null,
    models.length ? modelsTable(models) : null,
    h('h2', {}, t('catalogue')),
    h('div', { class: 'grid' }, catalogue.map((p) => {
      const latest = p.versions[p.versions.length - 1] ?? p.versions[0];
      return h('section', { class: 'card', 'data-plugin': p.name },
        h('h3', {}, p.name), h('p', {}, latest?.description ?? ''),
        h('p', { class: 'help' }, `${t('world')}: ${latest?.world} · ${t('capabilities')}: ${(latest?.capabilities ?? []).join(', ') || t('none')} · ${t('scopes')}: ${(latest?.scopes ?? []).join(', ') || t('none')}`),
        h('p', { class: 'help' }, `${t('version')}: ${p.versions.map((v) => v.version + (v.yanked ? ' (yanked)' : '')).join(', ')}`),
        h('a', { class: 'button', href: `${base}/plugins/${enc(p.name)}/install` }, t('install')));
    })),
  );
}

/** A form for a JSON Schema object: one labelled input per property. */
function schemaForm(schema, value, prefix) {
  const props = schema?.properties ?? {};
  const required = new Set(schema?.required ?? []);
  const fields = [];
  const readers = [];
  for (const [key, p] of Object.entries(props)) {
    const path = `${prefix}.${key}`;
    const id = `f-${path}`;
    const current = value?.[key];
    const help = [p.description, p.minimum !== undefined ? `≥ ${p.minimum}` : null, p.maximum !== undefined ? `≤ ${p.maximum}` : null,
      required.has(key) ? t('required') : null].filter(Boolean).join(' · ');
    let input;
    let read;
    if (Array.isArray(p.enum)) {
      input = h('select', { id, name: path }, h('option', { value: '' }, '—'),
        p.enum.map((v) => h('option', { value: JSON.stringify(v), selected: JSON.stringify(v) === JSON.stringify(current) }, String(v))));
      read = () => (input.value === '' ? undefined : JSON.parse(input.value));
    } else if (p.type === 'boolean') {
      input = h('input', { id, name: path, type: 'checkbox', checked: current === true });
      read = () => input.checked;
    } else if (p.type === 'integer' || p.type === 'number') {
      input = h('input', { id, name: path, type: 'number', step: p.type === 'integer' ? '1' : 'any', min: p.minimum, max: p.maximum, value: current ?? '' });
      read = () => (input.value === '' ? undefined : Number(input.value));
    } else if (p.type === 'string') {
      input = h('input', { id, name: path, type: 'text', value: current ?? '', minlength: p.minLength, maxlength: p.maxLength });
      read = () => (input.value === '' ? undefined : input.value);
    } else {
      input = h('textarea', { id, name: path }, current === undefined ? '' : JSON.stringify(current, null, 2));
      read = () => (input.value.trim() === '' ? undefined : JSON.parse(input.value));
    }
    const helpId = `${id}-help`;
    input.setAttribute('aria-describedby', helpId);
    fields.push(h('div', { class: 'field', 'data-field': path },
      p.type === 'boolean' ? h('label', { class: 'check', for: id }, input, key) : [h('label', { for: id }, key), input],
      h('p', { id: helpId, class: 'help' }, help || (p.type ? p.type : t('jsonHelp')))));
    readers.push([key, read, input]);
  }
  let raw = null;
  if (!Object.keys(props).length) {
    raw = h('textarea', { id: `f-${prefix}`, name: prefix, 'aria-describedby': `f-${prefix}-help` }, JSON.stringify(value ?? {}, null, 2));
    fields.push(h('div', { class: 'field', 'data-field': prefix }, h('label', { for: `f-${prefix}` }, t('config')), raw,
      h('p', { id: `f-${prefix}-help`, class: 'help' }, t('jsonHelp'))));
  }
  const clear = (root) => {
    root.querySelectorAll('.field-error').forEach((e) => e.remove());
    root.querySelectorAll('[aria-invalid]').forEach((e) => e.removeAttribute('aria-invalid'));
  };
  /** Marks each error's field (the longest field path it starts with). */
  const show = (root, errors) => {
    clear(root);
    for (const e of errors) {
      const boxes = [...root.querySelectorAll('[data-field]')];
      const box = boxes.filter((b) => e.field === b.dataset.field || e.field.startsWith(`${b.dataset.field}.`) || e.field.startsWith(`${b.dataset.field}[`))
        .sort((a, b) => b.dataset.field.length - a.dataset.field.length)[0] ?? boxes[0];
      if (!box) continue;
      const input = box.querySelector('input, select, textarea');
      const errId = `err-${box.dataset.field}`;
      input?.setAttribute('aria-invalid', 'true');
      input?.setAttribute('aria-describedby', `${errId} ${input.getAttribute('aria-describedby') ?? ''}`.trim());
      box.append(h('p', { class: 'field-error', id: errId }, e.message));
    }
  };
  const read = (root) => {
    if (raw) return JSON.parse(raw.value || '{}');
    const out = {};
    const bad = [];
    for (const [key, r, input] of readers) {
      try {
        const v = r();
        if (v !== undefined) out[key] = v;
      } catch (e) {
        bad.push({ field: `${prefix}.${key}`, message: `${t('jsonHelp')}: ${e.message}` });
        input.setAttribute('aria-invalid', 'true');
      }
    }
    if (bad.length) {
      show(root, bad);
      throw new Error(t('fixFields'));
    }
    return out;
  };
  return { fields, read, show };
}

async function submitConfig(form, f, send) {
  const status = form.querySelector('.form-status');
  try {
    const config = f.read(form);
    await send(config);
  } catch (e) {
    const errors = e.problem?.errors ?? [];
    if (errors.length) f.show(form, errors);
    status.replaceChildren(notice(errors.length ? t('fixFields') : e.message, true));
  }
}

async function installPage(name) {
  const catalogue = await api('GET', '/v1/plugins');
  const plugin = catalogue.find((p) => p.name === name);
  if (!plugin) return render(notice(`${name}?`, true));
  const versions = plugin.versions.filter((v) => !v.yanked);
  const params = new URLSearchParams(location.search);
  const v = versions.find((x) => x.version === params.get('version')) ?? versions[versions.length - 1];
  const f = schemaForm(v.config_schema, {}, 'config');
  const grants = (v.scopes ?? []).map((sc) => h('label', { class: 'check' }, h('input', { type: 'checkbox', name: 'grant', value: sc }), `${t('grants')}: ${sc}`));
  const form = h('form', { id: 'install-form', novalidate: true },
    h('div', { class: 'form-status', 'aria-live': 'polite' }),
    h('label', { for: 'version' }, t('version')),
    h('select', { id: 'version', name: 'version', onchange: (e) => go(`?version=${enc(e.target.value)}`) },
      versions.map((x) => h('option', { value: x.version, selected: x.version === v.version }, x.version))),
    h('fieldset', {}, h('legend', {}, t('config')), f.fields), grants,
    h('p', {}, h('button', { type: 'submit' }, t('install'))));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    submitConfig(form, f, async (config) => {
      const granted = [...form.querySelectorAll('input[name=grant]:checked')].map((x) => x.value);
      const body = { plugin: name, version: v.version, config };
      if (granted.length) body.grants = granted;
      await api('POST', storeApi('/installs'), body);
      go(`/stores/${enc(store.id)}/plugins`, t('installed_ok'));
    });
  });
  render(h('h1', {}, `${t('installTitle')} ${name}`), h('p', {}, v.description), form);
}

async function installConfigPage(id) {
  const [i, catalogue, history] = await Promise.all([
    api('GET', storeApi(`/installs/${enc(id)}`)), api('GET', '/v1/plugins'),
    api('GET', storeApi(`/installs/${enc(id)}/history`)).catch(() => []),
  ]);
  const plugin = catalogue.find((p) => p.name === i.plugin);
  const v = plugin?.versions.find((x) => x.version === i.version);
  const f = schemaForm(v?.config_schema ?? {}, i.config, 'config');
  const form = h('form', { id: 'config-form', novalidate: true },
    h('div', { class: 'form-status', 'aria-live': 'polite' }),
    h('fieldset', {}, h('legend', {}, t('config')), f.fields),
    h('p', {}, h('button', { type: 'submit' }, t('save'))));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    submitConfig(form, f, async (config) => {
      await api('PATCH', storeApi(`/installs/${enc(id)}`), { config });
      go(location.pathname, t('saved'));
    });
  });
  // Another plugin of the same world, or another version of this one.
  const options = catalogue.flatMap((p) => p.versions.filter((x) => x.world === i.world && !x.yanked)
    .map((x) => ({ plugin: p.name, version: x.version }))).filter((o) => !(o.plugin === i.plugin && o.version === i.version));
  const swap = h('form', { id: 'swap-form', class: 'row' },
    h('div', {}, h('label', { for: 'swap' }, t('swap')),
      h('select', { id: 'swap' }, options.map((o) => h('option', { value: JSON.stringify(o) }, `${o.plugin}@${o.version}`)))),
    h('button', { type: 'submit', class: 'secondary', disabled: !options.length }, t('save')),
    h('div', { class: 'form-status' }));
  swap.addEventListener('submit', async (e) => {
    e.preventDefault();
    try {
      await api('PATCH', storeApi(`/installs/${enc(id)}`), JSON.parse(swap.querySelector('#swap').value));
      go(location.pathname, t('saved'));
    } catch (err) {
      swap.querySelector('.form-status').replaceChildren(notice(err.message, true));
    }
  });
  render(
    h('h1', {}, `${i.plugin}@${i.version}`), flash(),
    h('p', {}, badge(i.state), ' ', i.disabled_reason ?? ''),
    h('div', { class: 'stats' }, stat(t('calls'), num(i.counters.invocations)), stat(t('failures'), num(i.counters.failures)),
      stat(t('p50'), `${num(i.counters.p50_us)} µs`), stat(t('p99'), `${num(i.counters.p99_us)} µs`)),
    h('section', { class: 'card' }, form),
    h('section', { class: 'card' }, swap),
    h('h2', {}, t('history')),
    table([t('when'), t('kind'), t('reason'), t('version')], (history ?? []).slice().reverse().map((x) => h('tr', {},
      td(when(x.at)), td(`${x.action} · ${x.actor}`), td(x.reason ?? ''), td(`${x.after?.plugin ?? ''}@${x.after?.version ?? ''}`)))),
  );
}

const KINDS = ['nps', 'csat', 'ces', 'satisfaction7', 'gap', 'kano', 'acsi'];

async function surveysPage() {
  const list = await api('GET', storeApi('/surveys'));
  const form = h('form', { id: 'survey-form', novalidate: true },
    h('div', { class: 'form-status', 'aria-live': 'polite' }),
    h('div', { 'data-field': 'id' }, h('label', { for: 's-id' }, t('id')), h('input', { id: 's-id', name: 'id', type: 'text', required: true })),
    h('div', { 'data-field': 'kind' }, h('label', { for: 's-kind' }, t('kind')), h('select', { id: 's-kind', name: 'kind' }, KINDS.map((k) => h('option', { value: k }, k)))),
    h('div', { 'data-field': 'questions' }, h('label', { for: 's-questions' }, t('questions')), h('textarea', { id: 's-questions', name: 'questions' })),
    h('p', {}, h('button', { type: 'submit' }, t('create'))));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const body = {
      id: form.querySelector('#s-id').value.trim(),
      kind: form.querySelector('#s-kind').value,
      questions: form.querySelector('#s-questions').value.split('\n').map((x) => x.trim()).filter(Boolean),
    };
    try {
      await api('POST', storeApi('/surveys'), body);
      go(`/stores/${enc(store.id)}/surveys/${enc(body.id)}`, t('created'));
    } catch (err) {
      form.querySelector('.form-status').replaceChildren(failure(err));
    }
  });
  render(
    h('h1', {}, t('surveys')), flash(),
    table([t('id'), t('kind'), t('questions')], list.map((x) => h('tr', {},
      td(h('a', { href: `/stores/${enc(store.id)}/surveys/${enc(x.id)}` }, x.id)), td(x.kind), td(x.questions.join(', '))))),
    h('h2', {}, t('newSurvey')), h('section', { class: 'card' }, form),
  );
}

function distribution(scores, lo, hi, title) {
  const rows = [];
  for (let v = lo; v <= hi; v += 1) rows.push({ label: String(v), n: scores.filter((x) => x === v).length });
  return bars(title, rows, [{ key: 'n' }]);
}

async function surveyPage(id) {
  const list = await api('GET', storeApi('/surveys'));
  const survey = list.find((x) => x.id === id);
  if (!survey) return render(notice(`${id}?`, true));
  const [report, responses] = await Promise.all([
    api('GET', storeApi(`/surveys/${enc(id)}/report`)).catch((e) => ({ error: e.message })),
    api('GET', storeApi(`/surveys/${enc(id)}/responses`)),
  ]);
  const scores = responses.map((r) => r.score?.score ?? r.score?.level).filter((x) => typeof x === 'number');
  const parts = [h('h1', {}, `${survey.id} · ${survey.kind}`), flash()];
  if (report.error) parts.push(notice(report.error, true));
  parts.push(h('div', { class: 'stats' }, stat(t('responses'), num(report.responses ?? responses.length)),
    report.nps !== undefined ? stat('NPS', report.nps ?? '—') : null, report.csat !== undefined ? stat('CSAT %', report.csat ?? '—') : null,
    report.mean !== undefined ? stat('CES', report.mean ?? '—') : null, report.index !== undefined ? stat('Index', report.index ?? '—') : null,
    report.overall_gap !== undefined ? stat(t('meanGap'), report.overall_gap ?? '—') : null,
    report.acsi !== undefined ? stat('ACSI', report.acsi ?? '—') : null));
  const card = (title, ...kids) => h('section', { class: 'card' }, h('h2', {}, title), kids);
  if (survey.kind === 'nps') {
    parts.push(card('NPS', hbars('NPS', [{ name: t('promoters'), count: report.promoters ?? 0 }, { name: t('passives'), count: report.passives ?? 0 },
      { name: t('detractors'), count: report.detractors ?? 0 }]), distribution(scores, 0, 10, t('distribution'))));
  } else if (survey.kind === 'csat') {
    parts.push(card(t('distribution'), distribution(scores, 1, 5, t('distribution'))));
  } else if (survey.kind === 'ces') {
    parts.push(card(t('distribution'), distribution(scores, 1, 7, t('distribution'))));
  } else if (survey.kind === 'satisfaction7') {
    parts.push(card(t('distribution'), bars(t('distribution'), Object.entries(report.levels ?? {}).map(([k, n]) => ({ label: k, n })), [{ key: 'n' }])));
  } else if (survey.kind === 'gap') {
    const items = Object.entries(report.items ?? {});
    parts.push(card(t('gapItem'), table([t('questions'), { label: t('meanGap'), num: true }, { label: t('responses'), num: true }],
      items.map(([name, x]) => h('tr', {}, td(name), td(x.mean_gap ?? '—', 'num'), td(num(x.answers), 'num')))),
    hbars(t('gapItem'), items.map(([name, x]) => ({ name, count: Math.abs(x.mean_gap ?? 0) })))));
  } else if (survey.kind === 'acsi') {
    parts.push(card(t('report'), bars('ACSI', Object.entries(report.items ?? {}).map(([k, n]) => ({ label: k, n: n ?? 0 })), [{ key: 'n' }])));
  } else if (survey.kind === 'kano') {
    const features = report.features ?? {};
    parts.push(card(t('kanoTitle'), h('div', { id: 'kano' }, kanoScatter(features)),
      table([t('questions'), t('category'), { label: t('better'), num: true }, { label: t('worse'), num: true }],
        Object.entries(features).map(([name, f]) => h('tr', {}, td(name), td(f.category ?? '—'), td(f.better ?? '—', 'num'), td(f.worse ?? '—', 'num'))))));
  } else {
    parts.push(card(t('report'), h('pre', {}, JSON.stringify(report, null, 2))));
  }
  render(...parts);
}

async function messagesPage() {
  const [outbox, delivery] = await Promise.all([api('GET', storeApi('/messages')), api('GET', storeApi('/delivery')).catch(() => ({}))]);
  // The sink: the log, or a signed webhook (its secret is never shown back).
  const kind = h('select', { id: 'd-kind', name: 'kind' },
    h('option', { value: 'log', selected: delivery?.kind !== 'webhook' }, t('logSink')),
    h('option', { value: 'webhook', selected: delivery?.kind === 'webhook' }, 'Webhook'));
  const url = h('input', { id: 'd-url', name: 'url', type: 'text', value: delivery?.url ?? '', placeholder: 'https://' });
  const secret = h('input', { id: 'd-secret', name: 'secret', type: 'password', autocomplete: 'new-password', 'aria-describedby': 'd-secret-help' });
  const form = h('form', { id: 'delivery-form', novalidate: true }, h('div', { class: 'form-status', 'aria-live': 'polite' }),
    h('div', { 'data-field': 'kind' }, h('label', { for: 'd-kind' }, t('sink')), kind),
    h('div', { 'data-field': 'url' }, h('label', { for: 'd-url' }, 'URL'), url),
    h('div', { 'data-field': 'secret' }, h('label', { for: 'd-secret' }, t('secret')), secret,
      h('p', { id: 'd-secret-help', class: 'help' }, t('secretHelp'))),
    h('p', {}, h('button', { type: 'submit' }, t('save'))));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const body = kind.value === 'webhook' ? { kind: 'webhook', url: url.value.trim(), secret: secret.value } : { kind: 'log' };
    try {
      await api('PUT', storeApi('/delivery'), body);
      go(location.pathname, t('saved'));
    } catch (err) {
      form.querySelector('.form-status').replaceChildren(failure(err));
    }
  });
  const list = Array.isArray(outbox) ? outbox : outbox.messages ?? [];
  render(
    h('h1', {}, t('messages')), flash(),
    h('h2', {}, t('outbox')),
    table([t('when'), t('customers'), t('channel'), t('template'), t('state'), { label: 'attempts', num: true }],
      list.slice().reverse().slice(0, 500).map((m) => h('tr', {}, td(when(m.created_at)),
        td(h('a', { href: `/stores/${enc(store.id)}/customers/${enc(m.customer_id)}` }, m.customer_id)), td(m.channel), td(m.template),
        td([badge(m.state), m.last_error ? h('p', { class: 'help' }, m.last_error) : null]), td(num(m.attempts), 'num')))),
    h('h2', {}, t('delivery')), h('section', { class: 'card' }, form),
  );
}

// --- ops pages ------------------------------------------------------------------

async function everyInstall() {
  const stores = await api('GET', '/v1/stores');
  const lists = await Promise.all(stores.map((st) => api('GET', `/v1/stores/${enc(st.id)}/installs`).then((l) => l.map((i) => ({ ...i, store: st.id })))));
  return { stores, installs: lists.flat() };
}

async function opsPluginsPage() {
  const [catalogue, all] = await Promise.all([api('GET', '/v1/plugins'), everyInstall()]);
  const form = h('form', { id: 'publish-form', enctype: 'multipart/form-data' }, h('div', { class: 'form-status', 'aria-live': 'polite' }),
    h('label', { for: 'manifest' }, t('manifest')), h('input', { id: 'manifest', name: 'manifest', type: 'file', accept: '.toml', required: true }),
    h('label', { for: 'component' }, t('component')), h('input', { id: 'component', name: 'component', type: 'file', accept: '.wasm', required: true }),
    h('p', {}, h('button', { type: 'submit' }, t('publish'))));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const body = new FormData();
    body.append('manifest', await form.querySelector('#manifest').files[0].text());
    body.append('component', form.querySelector('#component').files[0]);
    try {
      const v = await api('POST', '/v1/plugins', body);
      go(location.pathname, `${v.name ?? ''}@${v.version ?? ''} ✓`);
    } catch (err) {
      form.querySelector('.form-status').replaceChildren(failure(err));
    }
  });
  const rows = catalogue.flatMap((p) => p.versions.map((v) => {
    const users = all.installs.filter((i) => i.plugin === p.name && i.version === v.version);
    return h('tr', {}, td(p.name), td(v.version), td(v.world), td(v.contract), td(when(v.published_at)),
      td(v.yanked ? badge('yanked') : ''), td(users.map((u) => h('div', {}, h('a', { href: `/stores/${enc(u.store)}/installs/${enc(u.install_id)}` }, u.store), ' ', badge(u.state)))));
  }));
  render(h('h1', {}, t('plugins')), flash(),
    table([t('name'), t('version'), t('world'), t('contract'), t('published'), '', t('runningIn')], rows),
    h('h2', {}, t('publish')), h('section', { class: 'card' }, form));
}

async function opsInstallsPage() {
  const { installs } = await everyInstall();
  const failures = await Promise.all(installs.map((i) => api('GET', `/v1/stores/${enc(i.store)}/installs/${enc(i.install_id)}/failures`).catch(() => [])));
  render(h('h1', {}, t('health')),
    table([t('store'), t('plugins'), t('state'), { label: t('calls'), num: true }, { label: t('failures'), num: true }, t('byCode'),
      { label: t('p50'), num: true }, { label: t('p99'), num: true }],
    installs.map((i, k) => {
      const byCode = {};
      for (const f of failures[k] ?? []) byCode[f.code] = (byCode[f.code] ?? 0) + 1;
      return h('tr', { 'data-install': i.install_id, class: i.state },
        td(h('a', { href: `/stores/${enc(i.store)}/installs/${enc(i.install_id)}` }, i.store)), td(`${i.plugin}@${i.version}`),
        td([badge(i.state), i.disabled_reason ? h('p', { class: 'help' }, i.disabled_reason) : null]),
        td(num(i.counters.invocations), 'num'), td(num(i.counters.failures), 'num'),
        td(Object.entries(byCode).map(([c, n]) => `${c}: ${n}`).join(', ') || '—'),
        td(`${num(i.counters.p50_us)} µs`, 'num'), td(`${num(i.counters.p99_us)} µs`, 'num'));
    })));
}

async function opsClusterPage() {
  const c = await api('GET', '/v1/cluster');
  render(h('h1', {}, t('cluster')), h('p', { class: 'muted' }, `${c.database} · ${t('node')} ${c.node}`),
    table([t('node'), t('state'), t('version_'), t('heartbeat'), t('holds')], (c.nodes ?? []).map((n) => h('tr', {},
      td(n.id), td(badge(n.state)), td(n.version), td(when(n.heartbeat_at)), td(n.leases.map((l) => l.name).join(', ') || '—')))));
}

async function opsStoresPage() {
  const stores = await api('GET', '/v1/stores');
  render(h('h1', {}, t('stores')),
    table([t('id'), t('name'), t('currency'), t('timezone')], stores.map((x) => h('tr', {},
      td(h('a', { href: `/stores/${enc(x.id)}` }, x.id)), td(x.name), td(x.currency), td(x.timezone)))));
}

// --- boot -------------------------------------------------------------------------

function wireLanguageLinks() {
  for (const a of document.querySelectorAll('a[data-lang]')) {
    a.addEventListener('click', (e) => {
      e.preventDefault();
      setLang(a.dataset.lang);
    });
  }
}

async function route() {
  const p = pathParts();
  if (p[0] === 'stores' && p[1]) {
    store = await api('GET', `/v1/stores/${enc(p[1])}`);
    const [, , section, id, action] = p;
    if (!section) return overviewPage();
    if (section === 'customers') return id ? customerPage(id) : customersPage();
    if (section === 'plugins' && id && action === 'install') return installPage(id);
    if (section === 'plugins') return pluginsPage();
    if (section === 'installs' && id) return installConfigPage(id);
    if (section === 'surveys') return id ? surveyPage(id) : surveysPage();
    if (section === 'messages') return messagesPage();
    if (section === 'retention') return retentionPage();
    if (section === 'privacy') return privacyPage();
  }
  if (p[0] === 'ops') {
    if (p[1] === 'installs') return opsInstallsPage();
    if (p[1] === 'cluster') return opsClusterPage();
    if (p[1] === 'stores') return opsStoresPage();
    return opsPluginsPage();
  }
  return render(notice('404', true));
}

async function boot() {
  if (location.pathname === '/sign-in') return wireLanguageLinks();
  const r = await fetch('/console/session', { credentials: 'same-origin' });
  if (!r.ok) return location.assign('/sign-in');
  session = await r.json();
  try {
    await route();
  } catch (e) {
    if (e.status !== 401) render(h('h1', {}, t('failed')), notice(e.message, true));
  }
  document.body.dataset.ready = 'true';
}

boot();

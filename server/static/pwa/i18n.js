// Every string the app shows, in one table: Chinese first (the default), English beside it.
import * as store from './store.js';

const T = {
  app_name: ['巡查', 'Patrol'],
  nav_home: ['首页', 'Home'],
  nav_scan: ['扫码', 'Scan'],
  nav_tasks: ['任务', 'Tasks'],
  nav_outbox: ['待发送', 'Outbox'],
  main_nav: ['主导航', 'Main navigation'],
  lang_switch: ['English', '中文'],
  lang_switch_label: ['切换到英文', 'Switch to Chinese'],
  unsent: ['未发送 {n}', 'Unsent {n}'],
  unsent_label: ['手机上还有 {n} 条未发送，查看待发送', '{n} not sent yet, open the outbox'],
  offline: ['离线', 'Offline'],
  online: ['在线', 'Online'],
  syncing: ['同步中…', 'Syncing…'],
  sync_now: ['立即同步', 'Sync now'],
  last_sync: ['上次同步：{t}', 'Last sync: {t}'],
  never_synced: ['尚未同步', 'Not synced yet'],
  update_ready: ['有新版本', 'New version available'],
  update_reload: ['重新加载', 'Reload'],
  update_after_form: ['保存或离开当前表单后自动更新', 'The app will update when you leave this form'],
  session_expired: ['登录已过期。记录都保存在手机上，请重新登录后发送。', 'Your session has expired. Everything is kept on the phone; log in again to send it.'],
  login_again: ['重新登录', 'Log in again'],
  login_title: ['登录', 'Log in'],
  username: ['用户名', 'Username'],
  password: ['密码', 'Password'],
  login: ['登录', 'Log in'],
  logout: ['退出登录', 'Log out'],
  login_failed: ['登录失败：{m}', 'Login failed: {m}'],
  login_offline: ['没有网络，无法登录。连上网络后再试。', 'No network: connect and try again.'],
  hello: ['你好，{name}', 'Hello, {name}'],
  site: ['项目', 'Site'],
  no_sites: ['还没有下载项目资料，请联网同步。', 'No site data on this phone yet: connect to sync.'],
  start_round: ['开始巡查', 'Start round'],
  plan: ['巡查计划', 'Patrol plan'],
  no_plan: ['不按计划', 'No plan'],
  round_open: ['巡查进行中：已到 {n} 个点', 'Round in progress: {n} checkpoints visited'],
  continue_round: ['扫码下一个点', 'Scan next checkpoint'],
  end_round: ['结束巡查', 'End round'],
  round_summary: ['巡查小结', 'Round summary'],
  visited: ['已巡查', 'Visited'],
  failed_items: ['发现问题', 'Problems found'],
  missed: ['漏查的点', 'Missed checkpoints'],
  none: ['无', 'None'],
  back_home: ['返回首页', 'Back to home'],
  my_tasks: ['我的任务', 'My tasks'],
  no_tasks: ['没有待办任务', 'No tasks waiting for you'],
  scan_title: ['扫描点位二维码', 'Scan the checkpoint QR code'],
  camera_starting: ['正在打开相机…', 'Starting the camera…'],
  camera_failed: ['无法使用相机，请输入点位编码。', 'The camera is not available: type the code instead.'],
  camera_video: ['相机画面', 'Camera view'],
  type_code: ['输入点位编码', 'Type the checkpoint code'],
  code_hint: ['二维码下方的编码，如 F01', 'The code printed under the QR, e.g. F01'],
  open: ['打开', 'Open'],
  unknown_code: ['找不到编码为 {c} 的点位。请联网同步后再试。', 'No checkpoint has the code {c}. Sync and try again.'],
  unknown_qr: ['不认识这个二维码。', 'This QR code is not a checkpoint label.'],
  wrong_checkpoint: ['这不是该任务的点位（应为 {name}）。', 'This is not the task\'s checkpoint (expected {name}).'],
  all_fine: ['全部正常', 'All fine'],
  all_fine_hint: ['一键保存：所有项目正常', 'One tap: save with every item fine'],
  method_look: ['看', 'Look'],
  method_listen: ['听', 'Listen'],
  method_touch: ['摸', 'Touch'],
  method_ask: ['问', 'Ask'],
  res_ok: ['正常', 'Fine'],
  res_fail: ['有问题', 'Problem'],
  res_na: ['不适用', 'N/A'],
  result_for: ['{item}：{r}', '{item}: {r}'],
  describe: ['问题描述', 'Describe the problem'],
  add_photo: ['拍照', 'Take photo'],
  photo_of: ['照片 {n}', 'Photo {n}'],
  remove_photo: ['删除照片 {n}', 'Remove photo {n}'],
  major: ['重大问题（立即上报主管和经理）', 'Major problem (report to supervisor and manager at once)'],
  dealt: ['已当场处理', 'Dealt with on the spot'],
  spot_note: ['处理情况', 'What was done'],
  visit_note: ['备注', 'Note'],
  resident_note: ['与住户沟通记录', 'Conversations with residents'],
  unmarked_ok: ['未标记的项目按“正常”保存。', 'Items left unmarked are saved as fine.'],
  save: ['保存', 'Save'],
  cancel: ['取消', 'Cancel'],
  saved: ['已保存在手机上', 'Saved on the phone'],
  saving_failed: ['保存失败：{m}', 'Could not save: {m}'],
  no_checklist: ['没有该类点位的检查表，请同步。', 'No checklist for this kind of checkpoint: sync first.'],
  scan_first: ['请先扫码到达点位。', 'Scan the checkpoint first.'],
  outbox_title: ['待发送记录', 'Outbox'],
  outbox_empty: ['还没有记录', 'Nothing recorded yet'],
  st_pending: ['在手机上', 'On the phone'],
  st_sent: ['已发送', 'Sent'],
  st_rejected: ['需要处理', 'Needs attention'],
  st_draft: ['草稿', 'Draft'],
  st_uploaded: ['已上传', 'Uploaded'],
  photos_state: ['照片：{done}/{all} 已上传', 'Photos: {done}/{all} uploaded'],
  kind_round_start: ['开始巡查', 'Round started'],
  kind_round_end: ['结束巡查', 'Round ended'],
  kind_visit_record: ['点位巡查', 'Checkpoint visit'],
  kind_task_transition: ['任务状态', 'Task update'],
  kind_task_verify: ['现场验收', 'On-site verification'],
  persist_ok: ['手机已允许长期保存数据。', 'The phone keeps this app\'s data permanently.'],
  persist_no: ['浏览器可能会清理本应用的数据：请尽快同步。', 'The browser may clear this app\'s data: sync often.'],
  ios_install: ['iPhone 用户：请点“分享”→“添加到主屏幕”，否则 Safari 可能在 7 天后删除未发送的记录。', 'iPhone: tap Share → Add to Home Screen, or Safari may delete unsent records after 7 days.'],
  version: ['版本 {v}', 'Version {v}'],
  task_state_open: ['待分派', 'Open'],
  task_state_assigned: ['已分派', 'Assigned'],
  task_state_in_progress: ['处理中', 'In progress'],
  task_state_done: ['待验收', 'Awaiting verification'],
  task_state_verified: ['已验收', 'Verified'],
  task_state_cancelled: ['已取消', 'Cancelled'],
  due: ['期限 {d}', 'Due {d}'],
  overdue: ['已超期', 'Overdue'],
  severity_major: ['重大', 'Major'],
  task_title: ['任务 #{id}', 'Task #{id}'],
  task_mark_in_progress: ['开始处理', 'Start work'],
  task_mark_done: ['已完成，待验收', 'Done, ready to verify'],
  task_verify: ['现场验收（扫码）', 'Verify on site (scan)'],
  task_pending_change: ['待发送：{s}', 'Not sent yet: {s}'],
  task_not_found: ['手机上没有这个任务。', 'This task is not on the phone.'],
  checkpoint: ['点位', 'Checkpoint'],
  task_state: ['状态', 'State'],
  due_label: ['期限', 'Due'],
  problem: ['问题', 'Problem'],
  assignee: ['负责人', 'Assignee'],
  unassigned: ['未分派', 'Unassigned'],
  verify_title: ['现场验收', 'On-site verification'],
  verify_scanned: ['已扫码：{name}', 'Scanned: {name}'],
  after_photo: ['整改后照片', 'Photo after the fix'],
  verify_result: ['验收结果', 'Result'],
  verify_pass: ['合格', 'Pass'],
  verify_fail: ['不合格', 'Fail'],
  fixed_by: ['整改人姓名', 'Fixed by (name)'],
  signature: ['验收人签名', 'Verifier\'s signature'],
  signature_hint: ['在框内用手指签名', 'Sign inside the box with your finger'],
  clear_signature: ['清除签名', 'Clear signature'],
  need_signature: ['请先签名。', 'Please sign first.'],
  need_result: ['请选择验收结果。', 'Choose pass or fail.'],
  back: ['返回', 'Back'],
  reason: ['原因：{m}', 'Reason: {m}'],
  kind_floor: ['楼层', 'Floor'],
  kind_elevator_car: ['电梯轿厢', 'Elevator car'],
  kind_lobby: ['大堂、门厅、走廊', 'Lobby, hall, corridor'],
  kind_outdoor_plaza: ['外围广场', 'Outdoor plaza'],
  kind_car_park: ['停车场', 'Car park'],
  kind_vacant_unit: ['空置房', 'Vacant unit'],
  loading: ['加载中…', 'Loading…'],
};

export function lang() {
  return store.get().lang;
}

/** The string for `key` in the current language, with {name} placeholders filled. */
export function t(key, vars = {}) {
  const row = T[key];
  let s = row ? row[lang() === 'en' ? 1 : 0] : key;
  for (const [k, v] of Object.entries(vars)) s = s.replaceAll(`{${k}}`, String(v));
  return s;
}

/** A bilingual value from the server ({zh, en} or name_zh/name_en) in the current language. */
export function pick(obj, base = 'name') {
  if (!obj) return '';
  if (typeof obj === 'string') return obj;
  if ('zh' in obj || 'en' in obj) return (lang() === 'en' ? obj.en : obj.zh) || obj.zh || obj.en || '';
  return (lang() === 'en' ? obj[`${base}_en`] : obj[`${base}_zh`]) || obj[`${base}_zh`] || obj[`${base}_en`] || '';
}

export function fmtTime(iso) {
  if (!iso) return '';
  const d = new Date(iso);
  return d.toLocaleString(lang() === 'en' ? 'en-GB' : 'zh-CN', { month: 'numeric', day: 'numeric', hour: '2-digit', minute: '2-digit' });
}

export function fmtDate(iso) {
  if (!iso) return '';
  return new Date(iso).toLocaleDateString(lang() === 'en' ? 'en-GB' : 'zh-CN');
}

// The Slack emulator's channel page: polls GET /_emulator/state, draws Block Kit, sends clicks and modal submissions.
// Every piece of message text goes into the page through textContent (or an attribute checked first): messages
// carry requester-supplied names, which must show as text, never as markup.
"use strict";

(() => {
  const POLL_MS = 1000;
  const EMOJI = {
    white_check_mark: "\u2705", heavy_check_mark: "\u2714\ufe0f", x: "\u274c", warning: "\u26a0\ufe0f",
    hourglass_flowing_sand: "\u23f3", hourglass: "\u231b", rotating_light: "\ud83d\udea8", no_entry: "\u26d4",
    no_entry_sign: "\ud83d\udeab", information_source: "\u2139\ufe0f", email: "\ud83d\udce7", envelope: "\u2709\ufe0f",
    lock: "\ud83d\udd12", key: "\ud83d\udd11", memo: "\ud83d\udcdd", page_facing_up: "\ud83d\udcc4", tada: "\ud83c\udf89",
    eyes: "\ud83d\udc40", "+1": "\ud83d\udc4d", thumbsup: "\ud83d\udc4d", "-1": "\ud83d\udc4e", thumbsdown: "\ud83d\udc4e",
    bell: "\ud83d\udd14", calendar: "\ud83d\udcc5", clock3: "\ud83d\udd52", stopwatch: "\u23f1\ufe0f", mag: "\ud83d\udd0d",
    inbox_tray: "\ud83d\udce5", outbox_tray: "\ud83d\udce4", package: "\ud83d\udce6", red_circle: "\ud83d\udd34",
    large_green_circle: "\ud83d\udfe2", large_yellow_circle: "\ud83d\udfe1", white_circle: "\u26aa", fire: "\ud83d\udd25",
    sparkles: "\u2728", robot_face: "\ud83e\udd16", bust_in_silhouette: "\ud83d\udc64", question: "\u2753",
    exclamation: "\u2757", heavy_plus_sign: "\u2795", arrow_right: "\u27a1\ufe0f", link: "\ud83d\udd17",
  };
  const INLINE =
    /<([^<>\n]+)>|```([\s\S]+?)```|`([^`\n]+)`|(?<![\w*])\*(?!\s)([^*\n]+?)\*(?![\w*])|(?<![\w_])_(?!\s)([^_\n]+?)_(?![\w_])|(?<![\w~])~(?!\s)([^~\n]+?)~(?![\w~])/g;

  const $ = (id) => document.getElementById(id);
  let state = null;
  let drawnKey = "";
  let channelId = decodeURIComponent(location.hash.slice(1)) || null;
  let shownView = null; // {id, key}
  let confirmLayer = null;

  // ---------------------------------------------------------------- small helpers

  function el(tag, cls, text) {
    const node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function me() {
    const chosen = $("user-select").value;
    return chosen === "other" ? ($("user").value || "").trim() || "U0APPROVER" : chosen;
  }

  const decode = (s) => s.replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&amp;/g, "&");
  const emojify = (s) => String(s).replace(/:([a-z0-9_+'-]+):/g, (m, name) => EMOJI[name] || m);

  function safeHref(url) {
    try {
      const parsed = new URL(url);
      if (["http:", "https:", "mailto:"].includes(parsed.protocol)) return parsed.href;
    } catch (_) { /* not a URL */ }
    return null;
  }

  function cmpTs(a, b) {
    const [ai, af = ""] = String(a).split(".");
    const [bi, bf = ""] = String(b).split(".");
    return Number(ai) - Number(bi) || Number(af.padEnd(6, "0")) - Number(bf.padEnd(6, "0"));
  }

  function clock(ts) {
    const when = new Date(Number(String(ts).split(".")[0]) * 1000);
    return when.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  }

  function setStatus(text, isError) {
    const node = $("status");
    node.textContent = text;
    node.classList.toggle("error", Boolean(isError));
  }

  async function postJson(url, body) {
    const resp = await fetch(url, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body),
    });
    let data = {};
    try { data = await resp.json(); } catch (_) { /* empty */ }
    return { ok: resp.ok, status: resp.status, data };
  }

  // ---------------------------------------------------------------- mrkdwn -> DOM

  function appendText(parent, raw) {
    if (raw) parent.appendChild(document.createTextNode(emojify(decode(raw))));
  }

  function appendAngle(parent, inner) {
    const [target, ...rest] = inner.split("|");
    const label = rest.length ? decode(rest.join("|")) : null;
    if (target.startsWith("@")) {
      const id = target.slice(1);
      parent.appendChild(el("span", id === me() ? "mention me" : "mention", "@" + (label || id)));
    } else if (target.startsWith("#")) {
      parent.appendChild(el("span", "mention", "#" + (label || target.slice(1))));
    } else if (target.startsWith("!")) {
      const special = target.slice(1).split("^")[0];
      const text = label || (["here", "channel", "everyone"].includes(special) ? "@" + special : special);
      parent.appendChild(el("span", "mention", text));
    } else {
      const href = safeHref(decode(target));
      const text = emojify(label || decode(target));
      if (href) {
        const a = el("a", null, text);
        a.href = href;
        a.target = "_blank";
        a.rel = "noopener noreferrer";
        parent.appendChild(a);
      } else {
        parent.appendChild(document.createTextNode(text));
      }
    }
  }

  function mrkdwn(text, parent) {
    let last = 0;
    for (const m of String(text).matchAll(INLINE)) {
      appendText(parent, text.slice(last, m.index));
      last = m.index + m[0].length;
      if (m[1] !== undefined) appendAngle(parent, m[1]);
      else if (m[2] !== undefined) parent.appendChild(el("pre", "code-block", decode(m[2].replace(/^\n/, ""))));
      else if (m[3] !== undefined) parent.appendChild(el("code", null, decode(m[3])));
      else {
        const tag = m[4] !== undefined ? "b" : m[5] !== undefined ? "i" : "s";
        const inner = el(tag);
        mrkdwn(m[4] ?? m[5] ?? m[6], inner);
        parent.appendChild(inner);
      }
    }
    appendText(parent, text.slice(last));
    return parent;
  }

  function textObj(obj, cls) {
    if (!obj) return el("span");
    if (obj.type === "mrkdwn") return mrkdwn(obj.text || "", el("span", "mrkdwn" + (cls ? " " + cls : "")));
    const text = obj.emoji === false ? obj.text || "" : emojify(obj.text || "");
    return el("span", "plain" + (cls ? " " + cls : ""), text);
  }

  function plain(obj, fallback) {
    return obj && obj.text ? emojify(obj.text) : fallback;
  }

  // ---------------------------------------------------------------- Block Kit

  function image(url, alt, cls) {
    const href = safeHref(url || "");
    if (!href) return el("span", "unsupported", `[image: ${alt || "no valid URL"}]`);
    const img = el("img", cls);
    img.src = href;
    img.alt = alt || "";
    img.referrerPolicy = "no-referrer";
    return img;
  }

  function renderBlocks(blocks, parent, ctx) {
    for (const block of blocks || []) {
      const node = renderBlock(block, ctx);
      if (block.block_id) node.dataset.blockId = block.block_id;
      parent.appendChild(node);
    }
  }

  function renderBlock(block, ctx) {
    switch (block.type) {
      case "header":
        return el("div", "block block-header", plain(block.text, ""));
      case "section": {
        const node = el("div", "block section");
        const main = el("div", "section-main");
        if (block.text) main.appendChild(textObj(block.text));
        if (block.fields && block.fields.length) {
          const grid = el("div", "fields");
          for (const field of block.fields) grid.appendChild(textObj(field, "field"));
          main.appendChild(grid);
        }
        node.appendChild(main);
        const acc = block.accessory;
        if (acc && acc.type === "button") node.appendChild(renderButton(acc, ctx));
        else if (acc && acc.type === "image") node.appendChild(image(acc.image_url, acc.alt_text, "accessory-image"));
        else if (acc) node.appendChild(el("span", "unsupported", `[${acc.type}]`));
        return node;
      }
      case "divider":
        return el("hr", "divider");
      case "image": {
        const node = el("div", "block image-block");
        if (block.title) node.appendChild(el("div", "image-title", plain(block.title, "")));
        node.appendChild(image(block.image_url, block.alt_text));
        return node;
      }
      case "context": {
        const node = el("div", "block context");
        for (const item of block.elements || []) {
          node.appendChild(item.type === "image" ? image(item.image_url, item.alt_text) : textObj(item));
        }
        return node;
      }
      case "actions": {
        const node = el("div", "block actions");
        for (const item of block.elements || []) {
          node.appendChild(
            item.type === "button" ? renderButton(item, ctx) : el("span", "unsupported", `[${item.type}]`),
          );
        }
        return node;
      }
      case "input":
        return renderInput(block, ctx);
      case "rich_text":
        return el("div", "block msg-text", richText(block));
      default:
        return el("div", "block unsupported", `[${block.type} block is not drawn by the emulator]`);
    }
  }

  function richText(node) {
    if (!node || typeof node !== "object") return "";
    if (node.type === "text" || node.type === "link") return node.text || node.url || "";
    if (node.type === "emoji") return EMOJI[node.name] || `:${node.name}:`;
    if (node.type === "user") return "@" + node.user_id;
    return (node.elements || []).map(richText).join(node.type === "rich_text_list" ? "\n" : "");
  }

  function renderButton(element, ctx) {
    const button = el("button", "btn" + (element.style ? " " + element.style : ""), plain(element.text, "Button"));
    button.type = "button";
    button.dataset.actionId = element.action_id || "";
    if (!ctx || !ctx.message) {
      button.disabled = true;
      button.title = "The emulator cannot click buttons here";
      return button;
    }
    button.addEventListener("click", () => {
      const go = () => sendClick(ctx.message, element, button);
      if (element.confirm) showConfirm(element.confirm, go);
      else go();
    });
    return button;
  }

  // ---------------------------------------------------------------- clicking

  async function sendClick(message, element, button) {
    if (element.url) {
      const href = safeHref(element.url);
      if (href) window.open(href, "_blank", "noopener,noreferrer");
    }
    button.disabled = true;
    setStatus(`Clicking “${plain(element.text, "")}” as ${me()}…`);
    try {
      const { ok, data } = await postJson("/_emulator/click", {
        ts: message.ts,
        action_id: element.action_id,
        channel: message.channel,
        user_id: me(),
      });
      if (!ok) setStatus(`Click failed: ${data.error || "error"}`, true);
      else if (data.status !== 200) setStatus(`The app answered the click with HTTP ${data.status}`, true);
      else setStatus(`Clicked “${plain(element.text, "")}” as ${me()}`);
    } catch (err) {
      setStatus(`Click failed: ${err}`, true);
    } finally {
      button.disabled = false;
      poll();
    }
  }

  function dialog(titleText, onClose) {
    const box = el("div", "dialog");
    box.setAttribute("role", "dialog");
    box.setAttribute("aria-modal", "true");
    const head = el("div", "dialog-head");
    const title = el("h2", null, titleText);
    const x = el("button", "dialog-x", "\u00d7");
    x.type = "button";
    x.setAttribute("aria-label", "Close");
    x.addEventListener("click", onClose);
    head.append(title, x);
    const body = el("div", "dialog-body");
    const foot = el("div", "dialog-foot");
    box.append(head, body, foot);
    return { box, body, foot };
  }

  function showConfirm(confirm, onConfirm) {
    closeConfirm();
    const layer = el("div", "overlay confirm-layer");
    const deny = () => closeConfirm();
    const { box, body, foot } = dialog(plain(confirm.title, "Are you sure?"), deny);
    box.classList.add("confirm-dialog");
    body.appendChild(textObj(confirm.text, "confirm-text"));
    const no = el("button", "btn", plain(confirm.deny, "Cancel"));
    no.type = "button";
    no.dataset.role = "deny";
    no.addEventListener("click", deny);
    const yes = el("button", "btn " + (confirm.style === "danger" ? "danger-solid" : "primary"), plain(confirm.confirm, "Yes"));
    yes.type = "button";
    yes.dataset.role = "confirm";
    yes.addEventListener("click", () => { closeConfirm(); onConfirm(); });
    foot.append(no, yes);
    layer.appendChild(box);
    document.body.appendChild(layer);
    confirmLayer = layer;
    yes.focus();
  }

  function closeConfirm() {
    if (confirmLayer) confirmLayer.remove();
    confirmLayer = null;
  }

  // ---------------------------------------------------------------- modals (views.open)

  function renderInput(block, ctx) {
    const node = el("div", "input-block");
    const element = block.element || {};
    const id = `in-${ctx && ctx.view ? ctx.view.id : "x"}-${block.block_id}`;
    const label = el("label", "input-label", plain(block.label, ""));
    label.htmlFor = id;
    if (block.optional) label.appendChild(el("span", "optional", " (optional)"));
    node.appendChild(label);
    let control;
    if (element.type === "static_select") {
      control = el("select", "select-el");
      const placeholder = el("option", null, plain(element.placeholder, "Select an option"));
      placeholder.value = "";
      control.appendChild(placeholder);
      const addOption = (parent, opt) => {
        const o = el("option", null, plain(opt.text, opt.value));
        o.value = opt.value;
        if (element.initial_option && element.initial_option.value === opt.value) o.selected = true;
        parent.appendChild(o);
      };
      for (const opt of element.options || []) addOption(control, opt);
      for (const group of element.option_groups || []) {
        const og = el("optgroup");
        og.label = plain(group.label, "");
        for (const opt of group.options || []) addOption(og, opt);
        control.appendChild(og);
      }
    } else if (element.type === "plain_text_input") {
      control = el(element.multiline ? "textarea" : "input");
      if (!element.multiline) control.type = "text";
      if (element.placeholder) control.placeholder = plain(element.placeholder, "");
      if (element.max_length) control.maxLength = element.max_length;
      if (element.initial_value) control.value = element.initial_value;
    } else {
      control = el("span", "unsupported", `[${element.type} input is not emulated]`);
    }
    control.id = id;
    node.appendChild(control);
    if (block.hint) node.appendChild(el("div", "input-hint", plain(block.hint, "")));
    node.appendChild(el("div", "input-error"));
    return node;
  }

  function inputValues(box, view) {
    const values = {};
    const missing = [];
    for (const block of view.blocks || []) {
      if (block.type !== "input") continue;
      const element = block.element || {};
      const control = box.querySelector(`[id="in-${view.id}-${block.block_id}"]`);
      const actionId = element.action_id || block.block_id;
      let entry = null;
      let empty = true;
      if (element.type === "static_select") {
        const opts = [...(element.options || []), ...(element.option_groups || []).flatMap((g) => g.options || [])];
        const chosen = opts.find((o) => o.value === control.value) || null;
        entry = { type: "static_select", selected_option: chosen };
        empty = !chosen;
      } else if (element.type === "plain_text_input") {
        entry = { type: "plain_text_input", value: control.value === "" ? null : control.value };
        empty = !control.value.trim();
      } else {
        continue;
      }
      values[block.block_id] = { [actionId]: entry };
      if (empty && !block.optional) missing.push(block.block_id);
    }
    return { values, missing };
  }

  function showErrors(box, errors, general) {
    for (const node of box.querySelectorAll(".input-block")) {
      const message = errors[node.dataset.blockId] || "";
      node.querySelector(".input-error").textContent = message;
      node.classList.toggle("has-error", Boolean(message));
    }
    box.querySelector(".dialog-error").textContent = general || "";
  }

  function renderModal(view) {
    const layer = $("overlay");
    layer.replaceChildren();
    const close = async () => {
      await postJson(`/_emulator/views/${encodeURIComponent(view.id)}/close`, {});
      hideModal();
    };
    const { box, body, foot } = dialog(plain(view.title, "Modal"), close);
    box.classList.add("modal");
    box.dataset.viewId = view.id;
    box.dataset.callbackId = view.callback_id || "";
    renderBlocks(view.blocks, body, { view });
    body.appendChild(el("div", "dialog-error"));
    const cancel = el("button", "btn", plain(view.close, "Cancel"));
    cancel.type = "button";
    cancel.dataset.role = "close";
    cancel.addEventListener("click", close);
    foot.appendChild(cancel);
    if (view.submit) {
      const submit = el("button", "btn primary", plain(view.submit, "Submit"));
      submit.type = "button";
      submit.dataset.role = "submit";
      submit.addEventListener("click", () => submitModal(view, box, submit));
      foot.appendChild(submit);
    }
    showErrors(box, view.errors || {}, view.error);
    layer.appendChild(box);
    layer.hidden = false;
  }

  async function submitModal(view, box, button) {
    const { values, missing } = inputValues(box, view);
    if (missing.length) {
      // Slack's own client refuses an empty required input before the app hears anything.
      showErrors(box, Object.fromEntries(missing.map((id) => [id, "Please complete this required field."])));
      return;
    }
    button.disabled = true;
    try {
      const { ok, data } = await postJson(`/_emulator/views/${encodeURIComponent(view.id)}/submit`, {
        values,
        user_id: me(),
      });
      if (!ok) showErrors(box, {}, data.error || "The submission failed.");
      else if (data.closed) hideModal();
      else showErrors(box, data.errors || {}, data.error);
    } catch (err) {
      showErrors(box, {}, String(err));
    } finally {
      button.disabled = false;
      poll();
    }
  }

  function hideModal() {
    const layer = $("overlay");
    layer.replaceChildren();
    layer.hidden = true;
    shownView = null;
  }

  function syncModal() {
    const view = (state.views || []).find((v) => !v.user || v.user === me());
    if (!view) {
      if (shownView) hideModal();
      return;
    }
    const key = JSON.stringify([view.id, view.title, view.blocks, view.submit, view.close]);
    if (shownView && shownView.key === key) return; // keep what the person typed
    shownView = { id: view.id, key };
    renderModal(view);
  }

  // ---------------------------------------------------------------- the channel

  function renderMessage(message, opts = {}) {
    const node = el("div", "msg" + (opts.ephemeral ? " ephemeral" : ""));
    if (message.ts) node.dataset.ts = message.ts;
    node.appendChild(el("div", "avatar", "C")); // only the app posts here
    const body = el("div", "msg-body");
    if (opts.ephemeral) body.appendChild(el("div", "only-you", "\ud83d\udc41 Only visible to you"));
    const meta = el("div", "msg-meta");
    meta.append(el("span", "msg-author", state.bot.name), el("span", "app-badge", "APP"));
    meta.appendChild(el("span", "msg-time", clock(message.ts || message.message_ts)));
    if (message.edited) meta.appendChild(el("span", "edited", "(edited)"));
    body.appendChild(meta);
    if (opts.broadcastParent) {
      body.appendChild(el("div", "broadcast-note", "replied to a thread: " + opts.broadcastParent.text.slice(0, 80)));
    }
    const content = el("div", "msg-content");
    if (message.blocks && message.blocks.length) {
      renderBlocks(message.blocks, content, opts.ephemeral ? {} : { message });
    } else {
      content.appendChild(mrkdwn(message.text || "", el("div", "msg-text")));
    }
    body.appendChild(content);
    if (opts.replies && opts.replies.length) {
      const thread = el("div", "thread");
      thread.appendChild(el("div", "thread-label", `${opts.replies.length} ${opts.replies.length === 1 ? "reply" : "replies"}`));
      for (const reply of opts.replies) {
        thread.appendChild(renderMessage(reply.item, { ephemeral: reply.ephemeral }));
      }
      body.appendChild(thread);
    }
    node.appendChild(body);
    return node;
  }

  function renderChannels() {
    const list = $("channels");
    list.replaceChildren();
    for (const channel of state.channels) {
      const li = el("li");
      const button = el("button", channel.id === channelId ? "active" : "", "# " + channel.name);
      button.type = "button";
      button.addEventListener("click", () => {
        channelId = channel.id;
        location.hash = encodeURIComponent(channel.id);
        draw(true);
      });
      li.appendChild(button);
      list.appendChild(li);
    }
  }

  function draw(force) {
    if (!state) return;
    if (!channelId || !state.channels.some((c) => c.id === channelId)) {
      channelId = state.channels.length ? state.channels[0].id : null;
    }
    const user = me();
    const messages = state.messages.filter((m) => m.channel === channelId);
    const ephemerals = state.ephemerals.filter((e) => e.channel === channelId && e.user === user);
    const key = JSON.stringify([channelId, user, state.channels, messages, ephemerals, state.callback_configured]);
    if (!force && key === drawnKey) return;
    drawnKey = key;
    renderChannels();
    const channel = state.channels.find((c) => c.id === channelId);
    $("channel-title").textContent = channel ? "# " + channel.name : "# (no messages yet)";
    const banner = $("banner");
    banner.hidden = state.callback_configured;
    banner.textContent = "No --callback-url was given: buttons and modals cannot reach the app.";

    const byTs = new Map(messages.map((m) => [m.ts, m]));
    const isReply = (m) => m.thread_ts && m.thread_ts !== m.ts && byTs.has(m.thread_ts);
    const replies = new Map();
    const addReply = (parentTs, entry) => {
      if (!replies.has(parentTs)) replies.set(parentTs, []);
      replies.get(parentTs).push(entry);
    };
    const top = [];
    for (const m of messages) {
      if (isReply(m)) addReply(m.thread_ts, { ts: m.ts, item: m });
      if (!isReply(m) || m.reply_broadcast) top.push({ ts: m.ts, item: m });
    }
    for (const e of ephemerals) {
      if (e.thread_ts && byTs.has(e.thread_ts)) addReply(e.thread_ts, { ts: e.message_ts, item: e, ephemeral: true });
      else top.push({ ts: e.message_ts, item: e, ephemeral: true });
    }
    top.sort((a, b) => cmpTs(a.ts, b.ts));
    const container = $("messages");
    container.replaceChildren();
    if (!top.length) container.appendChild(el("div", "empty", "No messages in this channel yet."));
    for (const entry of top) {
      const m = entry.item;
      const threadReplies = entry.ephemeral || isReply(m) ? [] : (replies.get(m.ts) || []).sort((a, b) => cmpTs(a.ts, b.ts));
      container.appendChild(
        renderMessage(m, {
          ephemeral: entry.ephemeral,
          replies: threadReplies,
          broadcastParent: !entry.ephemeral && isReply(m) ? byTs.get(m.thread_ts) : null,
        }),
      );
    }
  }

  let polling = false;
  async function poll() {
    if (polling) return;
    polling = true;
    try {
      const resp = await fetch("/_emulator/state", { cache: "no-store" });
      if (!resp.ok) throw new Error(`HTTP ${resp.status}`);
      state = await resp.json();
      draw(false);
      syncModal();
      if ($("status").classList.contains("error") && $("status").textContent.startsWith("Emulator")) setStatus("");
    } catch (err) {
      setStatus(`Emulator unreachable (${err.message})`, true);
    } finally {
      polling = false;
    }
  }

  document.addEventListener("DOMContentLoaded", () => {
    const select = $("user-select");
    const custom = $("user");
    const saved = localStorage.getItem("slack-emulator-user");
    if (saved && [...select.options].some((o) => o.value === saved)) select.value = saved;
    else if (saved) { select.value = "other"; custom.value = saved; }
    custom.hidden = select.value !== "other";
    const switchUser = () => {
      custom.hidden = select.value !== "other";
      localStorage.setItem("slack-emulator-user", me());
      hideModal();
      draw(true);
      if (state) syncModal();
    };
    select.addEventListener("change", () => {
      switchUser();
      if (!custom.hidden) custom.focus();
    });
    custom.addEventListener("change", switchUser);
    document.addEventListener("keydown", (event) => {
      if (event.key === "Escape" && confirmLayer) closeConfirm();
    });
    poll();
    setInterval(poll, POLL_MS);
  });
})();

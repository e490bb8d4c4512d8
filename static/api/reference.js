// A small reader of /api/v1/openapi.json: operations grouped by tag, with parameters, request
// bodies and answers. Text only (textContent), no inline script, no external requests.
"use strict";

(function () {
  const SPEC_URL = "/api/v1/openapi.json";

  function el(tag, attrs, children) {
    const node = document.createElement(tag);
    Object.entries(attrs || {}).forEach(([key, value]) => {
      if (key === "text") node.textContent = value;
      else node.setAttribute(key, value);
    });
    (children || []).forEach((child) => node.appendChild(child));
    return node;
  }

  function resolve(spec, schema) {
    let current = schema || {};
    for (let i = 0; i < 10 && current.$ref; i += 1) {
      current = spec.components.schemas[current.$ref.split("/").pop()] || {};
    }
    return current;
  }

  function typeOf(spec, schema) {
    if (!schema) return "";
    if (schema.$ref) return schema.$ref.split("/").pop();
    if (schema.anyOf) return schema.anyOf.map((s) => typeOf(spec, s)).join(" | ");
    if (schema.enum) return schema.enum.map((v) => JSON.stringify(v)).join(" | ");
    if (schema.const !== undefined) return JSON.stringify(schema.const);
    if (schema.type === "array") return typeOf(spec, schema.items) + "[]";
    if (schema.type === "object" && schema.additionalProperties) {
      return "{string: " + typeOf(spec, schema.additionalProperties) + "}";
    }
    return (schema.type || "any") + (schema.format ? " (" + schema.format + ")" : "");
  }

  function fieldTable(spec, schema) {
    const resolved = resolve(spec, schema);
    const props = resolved.properties || {};
    const required = new Set(resolved.required || []);
    const rows = Object.entries(props).map(([name, prop]) => el("tr", {}, [
      el("td", {}, [el("code", { text: name })]),
      el("td", { text: typeOf(spec, prop) }),
      el("td", { text: required.has(name) ? "是" : "" }),
      el("td", { text: prop.description || prop.title || "" }),
    ]));
    if (!rows.length) return el("p", { class: "small", text: typeOf(spec, schema) });
    return el("table", { class: "table table-sm schema-table" }, [
      el("thead", {}, [el("tr", {}, ["字段", "类型", "必填", "说明"].map((t) => el("th", { text: t })))]),
      el("tbody", {}, rows),
    ]);
  }

  function operation(spec, path, method, op) {
    const id = op.operationId;
    const parts = [
      el("h3", { class: "h6", id: id }, [
        el("span", { class: "method me-2", text: method }),
        el("code", { text: path }),
        el("span", { class: "ms-2", text: op.summary || "" }),
      ]),
      el("p", { class: "small mb-2", text: op.description || "" }),
    ];
    const params = op.parameters || [];
    if (params.length) {
      parts.push(el("h4", { class: "h6", text: "参数" }));
      parts.push(el("table", { class: "table table-sm schema-table" }, [
        el("tbody", {}, params.map((p) => el("tr", {}, [
          el("td", {}, [el("code", { text: p.name })]),
          el("td", { text: p.in }),
          el("td", { text: typeOf(spec, p.schema) }),
          el("td", { text: p.description || "" }),
        ]))),
      ]));
    }
    if (op.requestBody) {
      Object.entries(op.requestBody.content).forEach(([media, body]) => {
        parts.push(el("h4", { class: "h6", text: "请求正文（" + media + "）" }));
        parts.push(fieldTable(spec, body.schema));
      });
    }
    parts.push(el("h4", { class: "h6", text: "应答" }));
    parts.push(el("ul", { class: "small" }, Object.entries(op.responses).map(([code, answer]) => {
      const media = Object.keys(answer.content || {}).join(", ");
      return el("li", { text: code + " " + answer.description + (media ? "（" + media + "）" : "") });
    })));
    const okSchema = ((op.responses["200"] || op.responses["201"] || {}).content || {})["application/json"];
    if (okSchema) parts.push(fieldTable(spec, okSchema.schema));
    return el("section", { class: "op op-" + method }, parts);
  }

  function render(spec) {
    document.getElementById("api-title").textContent = spec.info.title + " " + spec.info.version;
    document.getElementById("api-description").textContent = spec.info.description || "";
    const byTag = {};
    Object.entries(spec.paths).forEach(([path, methods]) => {
      Object.entries(methods).forEach(([method, op]) => {
        const tag = (op.tags || ["other"])[0];
        (byTag[tag] = byTag[tag] || []).push([path, method, op]);
      });
    });
    const target = document.getElementById("operations");
    const toc = document.getElementById("toc");
    target.textContent = "";
    Object.keys(byTag).sort().forEach((tag) => {
      target.appendChild(el("h2", { class: "h5 mt-4", id: "tag-" + tag, text: tag }));
      const links = [];
      byTag[tag].forEach(([path, method, op]) => {
        target.appendChild(operation(spec, path, method, op));
        links.push(el("li", {}, [el("a", { href: "#" + op.operationId, text: method.toUpperCase() + " " + path })]));
      });
      toc.appendChild(el("h2", { class: "h6 mt-2", text: tag }));
      toc.appendChild(el("ul", { class: "small mb-1" }, links));
    });
  }

  document.addEventListener("DOMContentLoaded", () => {
    fetch(SPEC_URL, { headers: { Accept: "application/json" } })
      .then((response) => response.json())
      .then(render)
      .catch(() => {
        document.getElementById("operations").textContent = "无法加载接口说明。";
      });
  });
})();

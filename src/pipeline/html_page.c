/* Small pieces for the pages minewatch writes by hand: escaping, figures for reading, table
 * cells and one style sheet, so that every page reads alike. */
#include "pipeline/html_page.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

void mw_html_esc(FILE *f, const char *s)
{
    for (; s && *s; s++) {
        switch (*s) {
        case '&':
            fputs("&amp;", f);
            break;
        case '<':
            fputs("&lt;", f);
            break;
        case '>':
            fputs("&gt;", f);
            break;
        case '"':
            fputs("&quot;", f);
            break;
        case '\'':
            fputs("&#39;", f);
            break;
        default:
            fputc(*s, f);
        }
    }
}

const char *mw_html_str(const json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s ? s : "";
}

double mw_html_number(const json_t *v)
{
    return json_is_number(v) ? json_number_value(v) : NAN;
}

/* A figure for reading: four significant digits, thousands apart; an en dash when not measured. */
void mw_html_num(FILE *f, double v)
{
    if (!isfinite(v)) {
        fputs("&ndash;", f);
        return;
    }
    char buf[64];
    if (fabs(v) >= 1e4 && fabs(v) < 1e15) {
        snprintf(buf, sizeof buf, "%.0f", v);
        const char *d = buf + (*buf == '-');
        size_t len = strlen(d);
        if (d != buf) fputc('-', f);
        for (size_t i = 0; i < len; i++) {
            if (i && (len - i) % 3 == 0) fputs("&#8239;", f); /* narrow no-break space */
            fputc(d[i], f);
        }
        return;
    }
    snprintf(buf, sizeof buf, "%.4g", v);
    fputs(buf, f);
}

void mw_html_percent(FILE *f, double v)
{
    if (!isfinite(v))
        fputs("&ndash;", f);
    else
        fprintf(f, "%.1f&nbsp;%%", 100 * v);
}

void mw_html_td_text(FILE *f, const char *s)
{
    fputs("<td>", f);
    mw_html_esc(f, s);
    fputs("</td>", f);
}

void mw_html_td_num(FILE *f, double v)
{
    fputs("<td class=\"n\">", f);
    mw_html_num(f, v);
    fputs("</td>", f);
}

void mw_html_head_row(FILE *f, const char *const *cols)
{
    fputs("<thead><tr>", f);
    for (int i = 0; cols[i]; i++)
        fprintf(f, "<th>%s</th>", cols[i]);
    fputs("</tr></thead>\n<tbody>\n", f);
}

const char mw_html_style[] =
    "body{font:14px/1.45 'DejaVu Sans',Arial,sans-serif;color:#1d2329;margin:0 auto;"
    "max-width:1180px;padding:0 24px 48px}\n"
    "header{border-bottom:3px solid #2f5d50;padding:18px 0 8px;margin-bottom:8px}\n"
    "h1{font-size:24px;margin:0}h2{font-size:18px;margin:28px 0 6px;color:#2f5d50}\n"
    ".sub{color:#4a555f;margin:4px 0}\n"
    "table{border-collapse:collapse;margin:8px 0 4px;font-size:13px}\n"
    "th,td{border:1px solid #c9d1d6;padding:3px 7px;vertical-align:top;text-align:left}\n"
    "th{background:#eef2f0}td.n{text-align:right;white-space:nowrap}\n"
    ".bounds{color:#5f6b74;font-size:12px}.src{font-size:12px;color:#3c4650;max-width:420px}\n"
    ".verdict{display:inline-block;padding:2px 8px;border-radius:3px;font-weight:bold}\n"
    ".yes{background:#d7eadf;color:#1e5a35}.no{background:#ececec;color:#4a4a4a}\n"
    ".note{color:#3c4650}code{font-size:12px}\n"
    "@media print{section{page-break-inside:avoid}}\n";

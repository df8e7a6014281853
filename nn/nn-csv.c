/* nn-csv.c — streaming CSV loader (see nn-csv.h for the accepted format).
 *
 * The file is read in 64 KiB chunks and lexed one field at a time; each
 * field is converted as soon as it ends, so only one field's text and one
 * row of floats are held besides the growing result arrays. */
#include "config.h"
#include "nn-csv.h"

#include <glib/gi18n-lib.h>
#include <gio/gio.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define CSV_CHUNK 65536
#define CSV_EOF (-1)
#define CSV_SHOWN_MAX 40   /* longest cell text quoted in an error */
#define CSV_FIELD_MAX (1u << 20)   /* no sane cell is longer: stop runaway quotes early */

typedef enum { FIELD_END_SEP, FIELD_END_RECORD, FIELD_END_EOF } FieldEnd;

typedef struct {
  GInputStream *in;
  char *path_display;
  guint8 *buf;
  gsize cap, len, pos;
  gboolean eof;
  char sep;
  guint line;              /* current physical line, 1-based */
  GString *field;
  guint field_line;        /* line where the current field started */
  gboolean field_quoted;
  char **header;           /* column names, for error messages */
  guint n_header;
} CsvReader;

/* What to do with each column of the file. */
#define COL_SKIP  (-1)
#define COL_LABEL (-2)

typedef struct {
  const NnCsvOptions *opt;
  gint *col_role;          /* per file column: feature index, COL_SKIP or COL_LABEL */
  guint n_features;
  gboolean has_label;
  GArray *features;        /* float */
  GArray *labels;          /* guint32: first-seen index, or known class index */
  GArray *targets;         /* float */
  GHashTable *class_index; /* name → index+1 (GUINT_TO_POINTER) */
  GPtrArray *class_names;  /* first-seen order, or known classes */
  float *row;
  guint n_rows;
  guint32 row_label;
  float row_target;
} CsvLoad;

/* ---- errors ---- */

static char *
csv_shown (const char *text)
{
  char *valid = g_utf8_make_valid (text, -1);
  if (g_utf8_strlen (valid, -1) <= CSV_SHOWN_MAX)
    return valid;
  char *cut = g_utf8_substring (valid, 0, CSV_SHOWN_MAX);
  char *shown = g_strconcat (cut, "…", NULL);
  g_free (cut);
  g_free (valid);
  return shown;
}

/* Sets "PATH: line L, column C (“name”): MESSAGE"; @col is 0-based. */
G_GNUC_PRINTF (6, 7) static void
csv_error_at (CsvReader *r, GError **error, NnError code, guint line, guint col,
              const char *format, ...)
{
  va_list args;
  va_start (args, format);
  char *message = g_strdup_vprintf (format, args);
  va_end (args);
  if (col < r->n_header && r->header[col][0] != '\0')
    g_set_error (error, NN_ERROR, code, _("%s: line %u, column %u (“%s”): %s"),
                 r->path_display, line, col + 1, r->header[col], message);
  else
    g_set_error (error, NN_ERROR, code, _("%s: line %u, column %u: %s"),
                 r->path_display, line, col + 1, message);
  g_free (message);
}

/* ---- input ---- */

static gboolean
csv_fill (CsvReader *r, GError **error)
{
  if (r->eof)
    return TRUE;
  if (r->len == r->cap)
    {
      r->cap *= 2;
      r->buf = g_realloc (r->buf, r->cap);
    }
  GError *local = NULL;
  gssize n = g_input_stream_read (r->in, r->buf + r->len, r->cap - r->len, NULL, &local);
  if (n < 0)
    {
      g_set_error (error, NN_ERROR, NN_ERROR_IO, _("%s: cannot read: %s"),
                   r->path_display, local->message);
      g_error_free (local);
      return FALSE;
    }
  if (n == 0)
    r->eof = TRUE;
  r->len += n;
  return TRUE;
}

/* Next byte, CSV_EOF at the end; FALSE on a read error. */
static inline gboolean
csv_getc (CsvReader *r, int *c, GError **error)
{
  if (r->pos == r->len)
    {
      r->pos = r->len = 0;
      while (r->len == 0 && !r->eof)
        if (!csv_fill (r, error))
          return FALSE;
      if (r->len == 0)
        {
          *c = CSV_EOF;
          return TRUE;
        }
    }
  *c = r->buf[r->pos++];
  return TRUE;
}

static inline gboolean
csv_peek (CsvReader *r, int *c, GError **error)
{
  if (!csv_getc (r, c, error))
    return FALSE;
  if (*c != CSV_EOF)
    r->pos--;
  return TRUE;
}

/* Reads until the end of the header line (outside quotes) is in the buffer,
 * then picks the separator that appears more often there. */
static gboolean
csv_detect_separator (CsvReader *r, GError **error)
{
  gsize i = r->pos;
  gboolean quoted = FALSE, content = FALSE;
  guint commas = 0, semicolons = 0;
  for (;;)
    {
      if (i == r->len)
        {
          if (r->eof)
            break;
          if (!csv_fill (r, error))
            return FALSE;
          continue;
        }
      guint8 c = r->buf[i++];
      if (c == '"')
        quoted = !quoted;
      else if (!quoted && (c == '\n' || c == '\r'))
        {
          if (content)
            break;
          /* a blank line before the header: keep looking */
        }
      else if (c != ' ' && c != '\t')
        content = TRUE;
      if (!quoted && c == ',')
        commas++;
      else if (!quoted && c == ';')
        semicolons++;
    }
  r->sep = semicolons > commas ? ';' : ',';
  return TRUE;
}

/* ---- lexer ---- */

static gboolean
csv_field_too_long (CsvReader *r, guint col, GError **error)
{
  csv_error_at (r, error, NN_ERROR_PARSE, r->field_line, col,
                _("field longer than %u bytes (an unbalanced quote?)"), CSV_FIELD_MAX);
  return FALSE;
}

static gboolean
csv_read_quoted (CsvReader *r, guint col, FieldEnd *end, GError **error)
{
  int c;
  for (;;)
    {
      if (!csv_getc (r, &c, error))
        return FALSE;
      if (c == CSV_EOF)
        {
          csv_error_at (r, error, NN_ERROR_PARSE, r->field_line, col,
                        _("unterminated quoted field"));
          return FALSE;
        }
      if (c == '"')
        {
          int next;
          if (!csv_peek (r, &next, error))
            return FALSE;
          if (next == '"')
            {
              r->pos++;
              g_string_append_c (r->field, '"');
              continue;
            }
          break;
        }
      if (c == '\n')
        r->line++;
      if (G_UNLIKELY (r->field->len >= CSV_FIELD_MAX))
        return csv_field_too_long (r, col, error);
      g_string_append_c (r->field, (char) c);
    }
  /* After the closing quote: optional blanks, then the end of the field. */
  do
    if (!csv_getc (r, &c, error))
      return FALSE;
  while (c == ' ' || c == '\t');
  if (c == r->sep)
    *end = FIELD_END_SEP;
  else if (c == CSV_EOF)
    *end = FIELD_END_EOF;
  else if (c == '\n' || c == '\r')
    {
      int next;
      if (c == '\r' && !csv_peek (r, &next, error))
        return FALSE;
      if (c == '\r' && next == '\n')
        r->pos++;
      r->line++;
      *end = FIELD_END_RECORD;
    }
  else
    {
      csv_error_at (r, error, NN_ERROR_PARSE, r->line, col,
                    _("unexpected text after a closing quote"));
      return FALSE;
    }
  return TRUE;
}

/* Reads one field into r->field; @col (0-based) is only for messages. */
static gboolean
csv_read_field (CsvReader *r, guint col, FieldEnd *end, GError **error)
{
  g_string_truncate (r->field, 0);
  r->field_line = r->line;
  r->field_quoted = FALSE;
  int c;
  /* Blanks before an opening quote are allowed. */
  do
    {
      if (!csv_getc (r, &c, error))
        return FALSE;
      if (c == ' ' || c == '\t')
        g_string_append_c (r->field, (char) c);
    }
  while (c == ' ' || c == '\t');
  if (c == '"')
    {
      g_string_truncate (r->field, 0);
      r->field_quoted = TRUE;
      return csv_read_quoted (r, col, end, error);
    }
  for (;;)
    {
      if (c == CSV_EOF)
        {
          *end = FIELD_END_EOF;
          return TRUE;
        }
      if (c == r->sep)
        {
          *end = FIELD_END_SEP;
          return TRUE;
        }
      if (c == '\n' || c == '\r')
        {
          int next;
          if (c == '\r' && !csv_peek (r, &next, error))
            return FALSE;
          if (c == '\r' && next == '\n')
            r->pos++;
          r->line++;
          *end = FIELD_END_RECORD;
          return TRUE;
        }
      if (G_UNLIKELY (r->field->len >= CSV_FIELD_MAX))
        return csv_field_too_long (r, col, error);
      g_string_append_c (r->field, (char) c);
      if (!csv_getc (r, &c, error))
        return FALSE;
    }
}

static gboolean
csv_field_is_blank (CsvReader *r)
{
  if (r->field_quoted)
    return FALSE;
  for (gsize i = 0; i < r->field->len; i++)
    if (r->field->str[i] != ' ' && r->field->str[i] != '\t')
      return FALSE;
  return TRUE;
}

/* The field without surrounding blanks (modifies r->field). */
static const char *
csv_field_trimmed (CsvReader *r)
{
  return g_strstrip (r->field->str);
}

/* ---- header ---- */

static gboolean
csv_read_header (CsvReader *r, GError **error)
{
  GPtrArray *names = g_ptr_array_new_with_free_func (g_free);
  FieldEnd end;
  /* Skip blank lines before the header. */
  for (;;)
    {
      if (!csv_read_field (r, 0, &end, error))
        goto fail;
      if (!(end != FIELD_END_SEP && csv_field_is_blank (r)))
        break;
      if (end == FIELD_END_EOF)
        {
          g_set_error (error, NN_ERROR, NN_ERROR_PARSE,
                       _("%s: line %u: the file is empty (a header row is needed)"),
                       r->path_display, r->line);
          goto fail;
        }
    }
  for (;;)
    {
      g_ptr_array_add (names, g_utf8_make_valid (csv_field_trimmed (r), -1));
      if (end != FIELD_END_SEP)
        break;
      if (!csv_read_field (r, names->len, &end, error))
        goto fail;
    }
  r->n_header = names->len;
  g_ptr_array_add (names, NULL);
  r->header = (char **) g_ptr_array_free (names, FALSE);
  names = NULL;
  guint header_line = r->field_line;
  for (guint i = 0; i < r->n_header; i++)
    {
      if (r->header[i][0] == '\0')
        {
          csv_error_at (r, error, NN_ERROR_PARSE, header_line, i, _("empty column name"));
          return FALSE;
        }
      for (guint j = 0; j < i; j++)
        if (strcmp (r->header[i], r->header[j]) == 0)
          {
            csv_error_at (r, error, NN_ERROR_PARSE, header_line, i,
                          _("duplicate column name (also column %u)"), j + 1);
            return FALSE;
          }
    }
  return TRUE;

fail:
  if (names)
    g_ptr_array_free (names, TRUE);
  return FALSE;
}

static gint
csv_header_find (CsvReader *r, const char *name)
{
  for (guint i = 0; i < r->n_header; i++)
    if (strcmp (r->header[i], name) == 0)
      return (gint) i;
  return -1;
}

static char *
csv_join_names (char **names, guint n)
{
  GString *s = g_string_new (NULL);
  for (guint i = 0; i < n; i++)
    {
      if (i == 12)
        {
          g_string_append (s, ", …");
          break;
        }
      g_string_append_printf (s, "%s“%s”", i ? ", " : "", names[i]);
    }
  return g_string_free (s, FALSE);
}

/* Decides what each file column is for. */
static gboolean
csv_plan_columns (CsvReader *r, CsvLoad *load, GError **error)
{
  const NnCsvOptions *opt = load->opt;
  load->col_role = g_new (gint, r->n_header);
  for (guint i = 0; i < r->n_header; i++)
    load->col_role[i] = COL_SKIP;

  if (opt->label_column)
    {
      gint li = csv_header_find (r, opt->label_column);
      if (li < 0 && !opt->label_optional)
        {
          char *cols = csv_join_names (r->header, r->n_header);
          char *shown = csv_shown (opt->label_column);
          g_set_error (error, NN_ERROR, NN_ERROR_PARSE,
                       _("%s: line 1: no label column named “%s”; the columns are %s"),
                       r->path_display, shown, cols);
          g_free (shown);
          g_free (cols);
          return FALSE;
        }
      if (li >= 0)
        {
          load->col_role[li] = COL_LABEL;
          load->has_label = TRUE;
        }
    }

  if (opt->feature_columns == NULL)
    {
      for (guint i = 0; i < r->n_header; i++)
        if (load->col_role[i] != COL_LABEL)
          load->col_role[i] = (gint) load->n_features++;
      return TRUE;
    }

  GPtrArray *missing = g_ptr_array_new ();
  for (guint f = 0; opt->feature_columns[f]; f++)
    {
      gint i = csv_header_find (r, opt->feature_columns[f]);
      if (i < 0 || load->col_role[i] == COL_LABEL)
        g_ptr_array_add (missing, (gpointer) opt->feature_columns[f]);
      else
        load->col_role[i] = (gint) f;
      load->n_features++;
    }
  if (missing->len > 0)
    {
      char *cols = csv_join_names ((char **) missing->pdata, missing->len);
      g_set_error (error, NN_ERROR, NN_ERROR_MISMATCH,
                   g_dngettext (GETTEXT_PACKAGE, "%s: missing input column %s",
                                "%s: missing input columns %s", missing->len),
                   r->path_display, cols);
      g_free (cols);
    }
  gboolean ok = missing->len == 0;
  g_ptr_array_free (missing, TRUE);
  return ok;
}

/* ---- cells ---- */

static gboolean
csv_parse_number (CsvReader *r, guint col, float *out, GError **error)
{
  const char *text = csv_field_trimmed (r);
  if (*text == '\0')
    {
      csv_error_at (r, error, NN_ERROR_PARSE, r->field_line, col, _("missing value"));
      return FALSE;
    }
  char *endp = NULL;
  double v = g_ascii_strtod (text, &endp);
  if (endp == text || *endp != '\0')
    {
      char *shown = csv_shown (text);
      csv_error_at (r, error, NN_ERROR_PARSE, r->field_line, col,
                    _("not a number: “%s”"), shown);
      g_free (shown);
      return FALSE;
    }
  if (!isfinite (v) || !isfinite ((float) v))
    {
      char *shown = csv_shown (text);
      csv_error_at (r, error, NN_ERROR_PARSE, r->field_line, col,
                    _("not a finite number: “%s”"), shown);
      g_free (shown);
      return FALSE;
    }
  *out = (float) v;
  return TRUE;
}

static gboolean
csv_parse_class (CsvReader *r, CsvLoad *load, guint col, GError **error)
{
  const char *text = csv_field_trimmed (r);
  if (*text == '\0')
    {
      csv_error_at (r, error, NN_ERROR_PARSE, r->field_line, col, _("missing value"));
      return FALSE;
    }
  /* Classes are known by their valid UTF-8 form (invalid bytes become
   * U+FFFD), so two labels that differ only in invalid bytes are one class:
   * the table and the list must never disagree. */
  g_autofree char *valid = g_utf8_validate (text, -1, NULL) ? NULL : g_utf8_make_valid (text, -1);
  if (valid)
    text = valid;
  gpointer found = g_hash_table_lookup (load->class_index, text);
  if (found)
    {
      load->row_label = GPOINTER_TO_UINT (found) - 1;
      return TRUE;
    }
  if (load->opt->known_classes)
    {
      char *shown = csv_shown (text);
      char *known = csv_join_names ((char **) load->opt->known_classes,
                                    g_strv_length ((char **) load->opt->known_classes));
      csv_error_at (r, error, NN_ERROR_MISMATCH, r->field_line, col,
                    _("unknown class “%s” (the known classes are %s)"), shown, known);
      g_free (known);
      g_free (shown);
      return FALSE;
    }
  char *name = valid ? g_steal_pointer (&valid) : g_strdup (text);
  g_ptr_array_add (load->class_names, name);
  g_hash_table_insert (load->class_index, name, GUINT_TO_POINTER (load->class_names->len));
  load->row_label = load->class_names->len - 1;
  return TRUE;
}

static gboolean
csv_take_field (CsvReader *r, CsvLoad *load, guint col, GError **error)
{
  gint role = load->col_role[col];
  if (role == COL_SKIP)
    return TRUE;
  if (role >= 0)
    return csv_parse_number (r, col, &load->row[role], error);
  if (load->opt->task == NN_TASK_REGRESSION)
    return csv_parse_number (r, col, &load->row_target, error);
  return csv_parse_class (r, load, col, error);
}

/* Reads one data row. *@done is set at the end of the input. */
static gboolean
csv_read_row (CsvReader *r, CsvLoad *load, gboolean *done, GError **error)
{
  FieldEnd end;
  guint col = 0;
  *done = FALSE;
  for (;;)
    {
      if (!csv_read_field (r, col, &end, error))
        return FALSE;
      if (col == 0 && end != FIELD_END_SEP && csv_field_is_blank (r))
        {
          *done = end == FIELD_END_EOF;
          return TRUE;   /* a blank line */
        }
      if (col >= r->n_header)
        {
          csv_error_at (r, error, NN_ERROR_PARSE, r->field_line, col,
                        _("too many fields (the header has %u)"), r->n_header);
          return FALSE;
        }
      if (!csv_take_field (r, load, col, error))
        return FALSE;
      col++;
      if (end != FIELD_END_SEP)
        break;
    }
  if (col < r->n_header)
    {
      csv_error_at (r, error, NN_ERROR_PARSE, r->field_line, col,
                    _("missing field: the row has %u fields, the header has %u"),
                    col, r->n_header);
      return FALSE;
    }
  g_array_append_vals (load->features, load->row, load->n_features);
  load->n_rows++;
  if (load->has_label && load->opt->task == NN_TASK_REGRESSION)
    g_array_append_val (load->targets, load->row_target);
  else if (load->has_label)
    g_array_append_val (load->labels, load->row_label);
  *done = end == FIELD_END_EOF;
  return TRUE;
}

/* ---- classes ---- */

static gboolean
csv_is_integer (const char *s, gint64 *out)
{
  char *end = NULL;
  if (*s == '\0')
    return FALSE;
  *out = g_ascii_strtoll (s, &end, 10);
  return *end == '\0';
}

static gint
csv_compare_classes (gconstpointer a, gconstpointer b, gpointer numeric)
{
  const char *sa = *(const char * const *) a, *sb = *(const char * const *) b;
  if (GPOINTER_TO_INT (numeric))
    {
      gint64 ia = 0, ib = 0;
      csv_is_integer (sa, &ia);
      csv_is_integer (sb, &ib);
      return ia < ib ? -1 : ia > ib;
    }
  return strcmp (sa, sb);
}

/* Sorts first-seen classes and renumbers the labels; returns the names. */
static char **
csv_finish_classes (CsvLoad *load)
{
  guint n = load->class_names->len;
  char **sorted = g_new0 (char *, n + 1);
  gboolean numeric = TRUE;
  for (guint i = 0; i < n; i++)
    {
      gint64 dummy;
      sorted[i] = g_ptr_array_index (load->class_names, i);
      numeric = numeric && csv_is_integer (sorted[i], &dummy);
    }
  if (load->opt->known_classes == NULL)
    g_qsort_with_data (sorted, n, sizeof (char *), csv_compare_classes,
                       GINT_TO_POINTER (numeric));
  guint32 *remap = g_new (guint32, n);
  for (guint i = 0; i < n; i++)
    {
      guint old = GPOINTER_TO_UINT (g_hash_table_lookup (load->class_index, sorted[i])) - 1;
      remap[old] = i;
    }
  guint32 *labels = (guint32 *) load->labels->data;
  for (guint i = 0; i < load->labels->len; i++)
    labels[i] = remap[labels[i]];
  g_free (remap);
  for (guint i = 0; i < n; i++)
    sorted[i] = g_strdup (sorted[i]);
  return sorted;
}

/* ---- assembly ---- */

static gpointer
csv_array_steal (GArray *a, gsize elem)
{
  guint n = a->len;
  gpointer data = g_array_free (a, FALSE);
  return g_realloc (data, MAX ((gsize) n * elem, 1));   /* drop spare capacity */
}

static NnDataset *
csv_build_dataset (CsvReader *r, CsvLoad *load)
{
  NnDataset *ds = g_new0 (NnDataset, 1);
  ds->task = load->opt->task;
  ds->n_features = load->n_features;
  ds->n_rows = load->n_rows;
  ds->has_labels = load->has_label;
  if (ds->task == NN_TASK_CLASSIFICATION)
    {
      ds->class_names = csv_finish_classes (load);
      ds->n_classes = g_strv_length (ds->class_names);
    }
  ds->features = csv_array_steal (load->features, sizeof (float));
  load->features = NULL;
  if (load->has_label && ds->task == NN_TASK_REGRESSION)
    {
      ds->targets = csv_array_steal (load->targets, sizeof (float));
      load->targets = NULL;
    }
  else if (load->has_label)
    {
      ds->labels = csv_array_steal (load->labels, sizeof (guint32));
      load->labels = NULL;
    }
  g_clear_pointer (&load->targets, g_array_unref);
  g_clear_pointer (&load->labels, g_array_unref);

  ds->feature_names = g_new0 (char *, ds->n_features + 1);
  for (guint i = 0; i < r->n_header; i++)
    if (load->col_role[i] >= 0)
      ds->feature_names[load->col_role[i]] = g_strdup (r->header[i]);
  if (load->opt->label_column)
    ds->label_name = g_strdup (load->opt->label_column);
  return ds;
}

static void
csv_load_init (CsvLoad *load, const NnCsvOptions *opt)
{
  memset (load, 0, sizeof *load);
  load->opt = opt;
  load->features = g_array_new (FALSE, FALSE, sizeof (float));
  load->labels = g_array_new (FALSE, FALSE, sizeof (guint32));
  load->targets = g_array_new (FALSE, FALSE, sizeof (float));
  load->class_index = g_hash_table_new (g_str_hash, g_str_equal);
  load->class_names = g_ptr_array_new_with_free_func (g_free);
  if (opt->known_classes)
    for (guint i = 0; opt->known_classes[i]; i++)
      {
        char *name = g_strdup (opt->known_classes[i]);
        g_ptr_array_add (load->class_names, name);
        g_hash_table_insert (load->class_index, name, GUINT_TO_POINTER (i + 1));
      }
}

static void
csv_load_clear (CsvLoad *load)
{
  g_free (load->col_role);
  g_free (load->row);
  if (load->features)
    g_array_unref (load->features);
  if (load->labels)
    g_array_unref (load->labels);
  if (load->targets)
    g_array_unref (load->targets);
  g_hash_table_unref (load->class_index);
  g_ptr_array_unref (load->class_names);
}

static gboolean
csv_reader_open (CsvReader *r, const char *path, GError **error)
{
  memset (r, 0, sizeof *r);
  r->path_display = g_filename_display_name (path);
  r->line = 1;
  r->cap = CSV_CHUNK;
  r->buf = g_malloc (r->cap);
  r->field = g_string_new (NULL);
  GFile *file = g_file_new_for_path (path);
  GError *local = NULL;
  r->in = G_INPUT_STREAM (g_file_read (file, NULL, &local));
  g_object_unref (file);
  if (r->in == NULL)
    {
      /* GIO's message already names the file ("Error opening file …: …"). */
      g_set_error_literal (error, NN_ERROR, NN_ERROR_IO, local->message);
      g_error_free (local);
      return FALSE;
    }
  return TRUE;
}

static void
csv_reader_close (CsvReader *r)
{
  g_clear_object (&r->in);
  g_free (r->path_display);
  g_free (r->buf);
  g_string_free (r->field, TRUE);
  g_strfreev (r->header);
}

/* Skips a UTF-8 byte-order mark and chooses the separator. */
static gboolean
csv_reader_start (CsvReader *r, GError **error)
{
  while (r->len < 3 && !r->eof)
    if (!csv_fill (r, error))
      return FALSE;
  if (r->len >= 3 && memcmp (r->buf, "\xEF\xBB\xBF", 3) == 0)
    r->pos = 3;
  return csv_detect_separator (r, error);
}

NnDataset *
nn_csv_load (const char *path, const NnCsvOptions *options, GError **error)
{
  g_return_val_if_fail (path != NULL && options != NULL, NULL);
  CsvReader r;
  CsvLoad load;
  NnDataset *ds = NULL;
  csv_load_init (&load, options);
  if (!csv_reader_open (&r, path, error) || !csv_reader_start (&r, error)
      || !csv_read_header (&r, error) || !csv_plan_columns (&r, &load, error))
    goto out;
  if (load.n_features == 0)
    {
      g_set_error (error, NN_ERROR, NN_ERROR_PARSE,
                   _("%s: line %u: no feature columns besides the label"),
                   r.path_display, r.field_line);
      goto out;
    }
  load.row = g_new0 (float, load.n_features);
  gboolean done = FALSE;
  while (!done)
    if (!csv_read_row (&r, &load, &done, error))
      goto out;
  if (load.n_rows == 0)
    {
      g_set_error (error, NN_ERROR, NN_ERROR_PARSE,
                   _("%s: line %u: no data rows after the header"),
                   r.path_display, r.line);
      goto out;
    }
  ds = csv_build_dataset (&r, &load);
out:
  csv_reader_close (&r);
  csv_load_clear (&load);
  return ds;
}

NnDataset *
nn_dataset_load_csv (const char *path, const char *label_column, NnTask task,
                     const char * const *known_classes, GError **error)
{
  NnCsvOptions options = {
    .label_column = label_column,
    .task = task,
    .known_classes = known_classes,
  };
  return nn_csv_load (path, &options, error);
}

/* nn-csv.h — the CSV loader behind nn_dataset_load_csv(), with the extra
 * choices prediction needs: read only some columns (by name, in a given
 * order) and accept a file without the label column.
 *
 * Format: a header row, then one row per sample. The separator is ',' or ';'
 * (whichever appears more often in the header, outside quotes). Fields may be
 * quoted with '"' ("" is a quote; separators and newlines may appear inside
 * quotes). LF, CRLF or CR line ends; a UTF-8 byte-order mark is skipped;
 * blank lines are skipped. Spaces around unquoted values are ignored.
 *
 * Classification labels are strings (integers are strings too). Unless
 * known_classes is given, the classes are sorted: numerically when every
 * label is an integer ("2" < "10"), otherwise by byte order; with
 * known_classes the class index is the position in that list and any other
 * label is an NN_ERROR_MISMATCH error.
 *
 * Every problem in the content is an NN_ERROR_PARSE error whose message
 * names the file, the 1-based line and column and, when known, the column's
 * name: "data.csv: line 7, column 3 (“petal_width”): not a number: “abc”". */
#pragma once

#include "nn-dataset.h"

G_BEGIN_DECLS

typedef struct {
  const char *label_column;               /* NULL: no label */
  gboolean label_optional;                /* a missing label column is not an error */
  NnTask task;
  const char * const *known_classes;      /* NULL-terminated, or NULL */
  const char * const *feature_columns;    /* NULL: every column but the label, in
                                             file order; else exactly these, in this
                                             order (other columns are not parsed) */
} NnCsvOptions;

NnDataset *nn_csv_load (const char *path, const NnCsvOptions *options, GError **error);

G_END_DECLS

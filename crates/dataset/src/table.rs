//! `materials.parquet`: the one-row-per-material table (standard Parquet via arrow-rs, Snappy
//! compressed, row groups of [`ROW_GROUP_ROWS`] rows so one structure can be fetched without
//! decoding the whole column).

use std::collections::BTreeMap;
use std::fs::File;
use std::path::Path;
use std::sync::Arc;

use arrow_array::builder::{
    BooleanBuilder, Float32Builder, Float64Builder, Int32Builder, ListBuilder, StringBuilder,
};
use arrow_array::{
    new_null_array, Array, ArrayRef, BooleanArray, Float32Array, Float64Array, Int32Array,
    Int64Array, ListArray, RecordBatch, StringArray,
};
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::arrow::{ArrowWriter, ProjectionMask};
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;

use crate::error::{Error, ErrorKind, Result};

/// Rows per Parquet row group.
pub const ROW_GROUP_ROWS: usize = 8192;
/// Number of independent components of the Voigt elastic tensor stored per material.
pub const ELASTIC_COMPONENTS: usize = 15;

/// Columns every table has, in order, before the label columns.
pub const FIXED_COLUMNS: [&str; 7] = [
    "id",
    "source",
    "formula",
    "nsites",
    "structure",
    "crystal_system",
    "spacegroup",
];
/// Columns after the labels, before the modality columns.
pub const TRAILING_COLUMNS: [&str; 3] = ["is_metal", "elastic_tensor", "description"];

/// One table row as the writer holds it before commit.
#[derive(Debug, Clone, PartialEq)]
pub struct TableRow {
    pub id: String,
    pub source: String,
    pub formula: String,
    pub nsites: i32,
    pub structure_json: String,
    pub crystal_system: Option<String>,
    pub spacegroup: Option<i32>,
    pub labels: BTreeMap<String, f64>,
    pub is_metal: Option<bool>,
    pub elastic_tensor: Option<[f32; ELASTIC_COMPONENTS]>,
    /// Text description (robocrystallographer), if any.
    pub description: Option<String>,
    /// Modality name → (row index, derived).
    pub modality_rows: BTreeMap<String, (i64, bool)>,
}

/// Name of the row-index column of modality `m`.
pub fn row_column(m: &str) -> String {
    format!("{m}_row")
}

/// Name of the derived-flag column of modality `m`.
pub fn derived_column(m: &str) -> String {
    format!("{m}_derived")
}

fn elastic_item_field() -> Arc<Field> {
    Arc::new(Field::new("item", DataType::Float32, true))
}

/// The table schema for the given (sorted) label and modality names.
pub fn schema(labels: &[String], modalities: &[String]) -> SchemaRef {
    let mut fields = vec![
        Field::new("id", DataType::Utf8, false),
        Field::new("source", DataType::Utf8, false),
        Field::new("formula", DataType::Utf8, false),
        Field::new("nsites", DataType::Int32, false),
        Field::new("structure", DataType::Utf8, false),
        Field::new("crystal_system", DataType::Utf8, true),
        Field::new("spacegroup", DataType::Int32, true),
    ];
    fields.extend(
        labels
            .iter()
            .map(|l| Field::new(l, DataType::Float64, true)),
    );
    fields.push(Field::new("is_metal", DataType::Boolean, true));
    fields.push(Field::new(
        "elastic_tensor",
        DataType::List(elastic_item_field()),
        true,
    ));
    fields.push(Field::new("description", DataType::Utf8, true));
    for m in modalities {
        fields.push(Field::new(row_column(m), DataType::Int64, false));
        fields.push(Field::new(derived_column(m), DataType::Boolean, false));
    }
    Arc::new(Schema::new(fields))
}

/// Builds a record batch in `schema` from writer rows.
pub fn rows_to_batch(
    rows: &[TableRow],
    schema: &SchemaRef,
    labels: &[String],
    modalities: &[String],
) -> Result<RecordBatch> {
    let mut cols: Vec<ArrayRef> = Vec::with_capacity(schema.fields().len());
    let strings = |f: &dyn Fn(&TableRow) -> &str| -> ArrayRef {
        Arc::new(StringArray::from_iter_values(rows.iter().map(f)))
    };
    cols.push(strings(&|r| &r.id));
    cols.push(strings(&|r| &r.source));
    cols.push(strings(&|r| &r.formula));
    cols.push(Arc::new(Int32Array::from_iter_values(
        rows.iter().map(|r| r.nsites),
    )));
    cols.push(strings(&|r| &r.structure_json));
    let mut cs = StringBuilder::new();
    for r in rows {
        cs.append_option(r.crystal_system.as_deref());
    }
    cols.push(Arc::new(cs.finish()));
    let mut sg = Int32Builder::new();
    for r in rows {
        sg.append_option(r.spacegroup);
    }
    cols.push(Arc::new(sg.finish()));
    for l in labels {
        let mut b = Float64Builder::with_capacity(rows.len());
        for r in rows {
            b.append_option(r.labels.get(l).copied());
        }
        cols.push(Arc::new(b.finish()));
    }
    let mut metal = BooleanBuilder::new();
    for r in rows {
        metal.append_option(r.is_metal);
    }
    cols.push(Arc::new(metal.finish()));
    let mut el = ListBuilder::new(Float32Builder::new()).with_field(elastic_item_field());
    for r in rows {
        match &r.elastic_tensor {
            Some(t) => {
                el.values().append_slice(t);
                el.append(true);
            }
            None => el.append(false),
        }
    }
    cols.push(Arc::new(el.finish()));
    let mut desc = StringBuilder::new();
    for r in rows {
        desc.append_option(r.description.as_deref());
    }
    cols.push(Arc::new(desc.finish()));
    for m in modalities {
        let idx = rows
            .iter()
            .map(|r| r.modality_rows.get(m).map_or(-1, |x| x.0));
        cols.push(Arc::new(Int64Array::from_iter_values(idx)));
        let der = rows
            .iter()
            .map(|r| Some(r.modality_rows.get(m).is_some_and(|x| x.1)));
        cols.push(Arc::new(BooleanArray::from_iter(der)));
    }
    RecordBatch::try_new(schema.clone(), cols).map_err(|e| {
        Error::new(
            crate::manifest::TABLE_FILE,
            ErrorKind::CorruptTable(e.to_string()),
        )
    })
}

/// Re-shapes a batch read from an older table into `schema`: columns that the old table lacks
/// (labels or modalities added since) are filled with nulls / `-1` / `false`.
pub fn conform_batch(batch: &RecordBatch, schema: &SchemaRef, file: &Path) -> Result<RecordBatch> {
    let n = batch.num_rows();
    let mut cols: Vec<ArrayRef> = Vec::with_capacity(schema.fields().len());
    for field in schema.fields() {
        let name = field.name();
        let col = match batch.column_by_name(name) {
            Some(c) if c.data_type() == field.data_type() => c.clone(),
            Some(c) => {
                return Err(Error::new(
                    file,
                    ErrorKind::CorruptTable(format!(
                        "column {name} has type {}, expected {}",
                        c.data_type(),
                        field.data_type()
                    )),
                ))
            }
            None if name.ends_with("_row")
                && field.data_type() == &DataType::Int64
                && !field.is_nullable() =>
            {
                Arc::new(Int64Array::from(vec![-1i64; n]))
            }
            None if name.ends_with("_derived")
                && field.data_type() == &DataType::Boolean
                && !field.is_nullable() =>
            {
                Arc::new(BooleanArray::from(vec![false; n]))
            }
            None if field.is_nullable() => new_null_array(field.data_type(), n),
            None => {
                return Err(Error::new(
                    file,
                    ErrorKind::CorruptTable(format!("missing column {name}")),
                ))
            }
        };
        cols.push(col);
    }
    RecordBatch::try_new(schema.clone(), cols)
        .map_err(|e| Error::new(file, ErrorKind::CorruptTable(e.to_string())))
}

/// Parquet writer properties used for the table.
pub fn writer_properties() -> WriterProperties {
    WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
        .set_created_by(format!("multimat-dataset {}", env!("CARGO_PKG_VERSION")))
        .build()
}

/// Opens an Arrow writer on `file` for `schema`.
pub fn open_writer(file: File, schema: &SchemaRef, path: &Path) -> Result<ArrowWriter<File>> {
    ArrowWriter::try_new(file, schema.clone(), Some(writer_properties()))
        .map_err(|e| Error::new(path, ErrorKind::CorruptTable(e.to_string())))
}

/// Streams the first `limit` rows of the table `file` (at `path`, named in errors) as record batches of up to 8192 rows,
/// keeping only the columns named in `columns` (all when `None`) that exist in the file.
pub fn for_each_batch(
    file: File,
    path: &Path,
    limit: usize,
    columns: Option<&dyn Fn(&str) -> bool>,
    mut f: impl FnMut(RecordBatch) -> Result<()>,
) -> Result<()> {
    let corrupt = |e: String| Error::new(path, ErrorKind::CorruptTable(e));
    let builder =
        ParquetRecordBatchReaderBuilder::try_new(file).map_err(|e| corrupt(e.to_string()))?;
    let total = builder.metadata().file_metadata().num_rows() as usize;
    if total < limit {
        return Err(corrupt(format!(
            "table has {total} rows, manifest commits {limit}"
        )));
    }
    let builder = match columns {
        Some(keep) => {
            let roots: Vec<usize> = builder
                .schema()
                .fields()
                .iter()
                .enumerate()
                .filter(|(_, f)| keep(f.name()))
                .map(|(i, _)| i)
                .collect();
            let mask = ProjectionMask::roots(builder.parquet_schema(), roots);
            builder.with_projection(mask)
        }
        None => builder,
    };
    let reader = builder
        .with_batch_size(ROW_GROUP_ROWS)
        .with_limit(limit)
        .build()
        .map_err(|e| corrupt(e.to_string()))?;
    for batch in reader {
        f(batch.map_err(|e| corrupt(e.to_string()))?)?;
    }
    Ok(())
}

/// The table held in memory by a reader: every column except `structure`.
#[derive(Debug, Clone, Default)]
pub struct Columns {
    pub ids: Vec<String>,
    pub sources: Vec<String>,
    pub formulas: Vec<String>,
    pub nsites: Vec<i32>,
    pub crystal_system: Vec<Option<String>>,
    pub spacegroup: Vec<Option<i32>>,
    pub labels: BTreeMap<String, Vec<Option<f64>>>,
    pub is_metal: Vec<Option<bool>>,
    pub elastic_tensor: Vec<Option<[f32; ELASTIC_COMPONENTS]>>,
    /// Text description of every material (`None` where missing).
    pub descriptions: Vec<Option<String>>,
    /// Modality → (row index or -1 per material, derived flag per material).
    pub modalities: BTreeMap<String, (Vec<i64>, Vec<bool>)>,
}

fn column<'a, T: 'static>(batch: &'a RecordBatch, name: &str, path: &Path) -> Result<&'a T> {
    let col = batch.column_by_name(name).ok_or_else(|| {
        Error::new(
            path,
            ErrorKind::CorruptTable(format!("missing column {name}")),
        )
    })?;
    col.as_any().downcast_ref::<T>().ok_or_else(|| {
        Error::new(
            path,
            ErrorKind::CorruptTable(format!(
                "column {name} has unexpected type {}",
                col.data_type()
            )),
        )
    })
}

fn no_nulls(a: &dyn Array, name: &str, path: &Path) -> Result<()> {
    if a.null_count() > 0 {
        return Err(Error::new(
            path,
            ErrorKind::CorruptTable(format!("column {name} has nulls")),
        ));
    }
    Ok(())
}

/// Reads the first `materials` rows of the table `file` (every column but `structure`).
pub fn read_columns(
    file: File,
    path: &Path,
    materials: usize,
    labels: &[String],
    modalities: &[String],
) -> Result<Columns> {
    let mut c = Columns::default();
    for l in labels {
        c.labels.insert(l.clone(), Vec::with_capacity(materials));
    }
    for m in modalities {
        c.modalities.insert(
            m.clone(),
            (Vec::with_capacity(materials), Vec::with_capacity(materials)),
        );
    }
    let skip_structure = |name: &str| name != "structure";
    for_each_batch(file, path, materials, Some(&skip_structure), |b| {
        let strings = |name: &str, out: &mut Vec<String>| -> Result<()> {
            let a = column::<StringArray>(&b, name, path)?;
            no_nulls(a, name, path)?;
            out.extend(a.iter().map(|s| s.unwrap_or_default().to_string()));
            Ok(())
        };
        strings("id", &mut c.ids)?;
        strings("source", &mut c.sources)?;
        strings("formula", &mut c.formulas)?;
        let ns = column::<Int32Array>(&b, "nsites", path)?;
        no_nulls(ns, "nsites", path)?;
        c.nsites.extend(ns.values().iter().copied());
        let cs = column::<StringArray>(&b, "crystal_system", path)?;
        c.crystal_system
            .extend(cs.iter().map(|s| s.map(str::to_string)));
        c.spacegroup
            .extend(column::<Int32Array>(&b, "spacegroup", path)?.iter());
        for (l, out) in c.labels.iter_mut() {
            out.extend(column::<Float64Array>(&b, l, path)?.iter());
        }
        c.is_metal
            .extend(column::<BooleanArray>(&b, "is_metal", path)?.iter());
        let el = column::<ListArray>(&b, "elastic_tensor", path)?;
        for i in 0..el.len() {
            if el.is_null(i) {
                c.elastic_tensor.push(None);
                continue;
            }
            let v = el.value(i);
            let v = v.as_any().downcast_ref::<Float32Array>().ok_or_else(|| {
                Error::new(
                    path,
                    ErrorKind::CorruptTable("elastic_tensor items are not float32".into()),
                )
            })?;
            if v.len() != ELASTIC_COMPONENTS || v.null_count() > 0 {
                return Err(Error::new(
                    path,
                    ErrorKind::CorruptTable(format!(
                        "elastic_tensor of row {} has {} values, expected {ELASTIC_COMPONENTS}",
                        c.elastic_tensor.len(),
                        v.len()
                    )),
                ));
            }
            let mut t = [0f32; ELASTIC_COMPONENTS];
            t.copy_from_slice(v.values());
            c.elastic_tensor.push(Some(t));
        }
        // Tables written before the description column existed read as all-missing.
        match b.column_by_name("description") {
            Some(_) => c.descriptions.extend(
                column::<StringArray>(&b, "description", path)?
                    .iter()
                    .map(|s| s.map(str::to_string)),
            ),
            None => c
                .descriptions
                .extend(std::iter::repeat_n(None, b.num_rows())),
        }
        for (m, (rows, derived)) in c.modalities.iter_mut() {
            let rname = row_column(m);
            let r = column::<Int64Array>(&b, &rname, path)?;
            no_nulls(r, &rname, path)?;
            rows.extend(r.values().iter().copied());
            let dname = derived_column(m);
            let d = column::<BooleanArray>(&b, &dname, path)?;
            no_nulls(d, &dname, path)?;
            derived.extend(d.iter().map(|x| x.unwrap_or(false)));
        }
        Ok(())
    })?;
    Ok(c)
}

#include "dock/audit/database.h"

#include <sqlite3.h>

#include <climits>

namespace bwc::db {

namespace {

Errc errcFor(int rc)
{
    switch (rc & 0xff) {
    case SQLITE_FULL:
        return Errc::NoSpace;
    case SQLITE_CONSTRAINT:
        return Errc::Exists;
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
        return Errc::Format;
    case SQLITE_CANTOPEN:
    case SQLITE_IOERR:
    case SQLITE_READONLY:
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        return Errc::Io;
    default:
        return Errc::Internal;
    }
}

} // namespace

void Database::Closer::operator()(sqlite3 *db) const
{
    sqlite3_close_v2(db);
}

Expected<Database> Database::open(const std::string &path)
{
    sqlite3 *raw = nullptr;
    const int rc =
        sqlite3_open_v2(path.c_str(), &raw,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
    std::unique_ptr<sqlite3, Closer> db(raw);
    if (rc != SQLITE_OK) {
        const std::string why = raw != nullptr ? sqlite3_errmsg(raw) : sqlite3_errstr(rc);
        return Error(errcFor(rc) == Errc::Internal ? Errc::Io : errcFor(rc),
                     "catalog " + path + ": open failed: " + why +
                         "; check that the store directory exists and is writable");
    }
    sqlite3_extended_result_codes(raw, 1);
    // Writers wait for each other for a while instead of failing at once.
    sqlite3_busy_timeout(raw, 5000);
    return Database(std::move(db), path);
}

Error Database::error(int rc, std::string_view what) const
{
    std::string message =
        "catalog " + path_ + ": " + std::string(what) + " failed: " + sqlite3_errmsg(db_.get());
    if ((rc & 0xff) == SQLITE_FULL)
        message += "; the disk holding the store is full: free space, then retry";
    return Error(errcFor(rc), std::move(message));
}

Expected<void> Database::exec(std::string_view sql)
{
    const std::string text(sql);
    char *err = nullptr;
    const int rc = sqlite3_exec(db_.get(), text.c_str(), nullptr, nullptr, &err);
    if (rc != SQLITE_OK) {
        const std::string why = err != nullptr ? err : sqlite3_errstr(rc);
        sqlite3_free(err);
        std::string message =
            "catalog " + path_ + ": \"" + text.substr(0, 60) + "\" failed: " + why;
        return Error(errcFor(rc), std::move(message));
    }
    return {};
}

Expected<std::optional<int64_t>> Database::queryInt(std::string_view sql)
{
    BWC_ASSIGN(stmt, Statement::prepare(*this, sql));
    BWC_ASSIGN(row, stmt.step());
    if (!row)
        return std::optional<int64_t>();
    return std::optional<int64_t>(stmt.columnInt(0));
}

Expected<std::optional<std::string>> Database::queryText(std::string_view sql)
{
    BWC_ASSIGN(stmt, Statement::prepare(*this, sql));
    BWC_ASSIGN(row, stmt.step());
    if (!row)
        return std::optional<std::string>();
    return std::optional<std::string>(stmt.columnText(0));
}

int64_t Database::lastInsertRowid() const
{
    return sqlite3_last_insert_rowid(db_.get());
}

int Database::changes() const
{
    return sqlite3_changes(db_.get());
}

bool Database::inTransaction() const
{
    return sqlite3_get_autocommit(db_.get()) == 0;
}

void Statement::Finalizer::operator()(sqlite3_stmt *stmt) const
{
    sqlite3_finalize(stmt);
}

Expected<Statement> Statement::prepare(Database &db, std::string_view sql)
{
    if (sql.size() > size_t(INT_MAX))
        return Error(Errc::Internal, "catalog " + db.path() + ": statement too long");
    sqlite3_stmt *raw = nullptr;
    const int rc = sqlite3_prepare_v3(db.handle(), sql.data(), int(sql.size()), 0, &raw, nullptr);
    std::unique_ptr<sqlite3_stmt, Finalizer> stmt(raw);
    if (rc != SQLITE_OK)
        return db.error(rc, "preparing \"" + std::string(sql.substr(0, 60)) + "\"");
    if (!stmt)
        return Error(Errc::Internal,
                     "catalog " + db.path() + ": empty statement \"" + std::string(sql) + "\"");
    return Statement(db, std::move(stmt), std::string(sql));
}

void Statement::noteBind(int rc, int index)
{
    if (rc != SQLITE_OK && !bindError_)
        bindError_ = db_->error(rc, "binding parameter " + std::to_string(index) + " of \"" +
                                        sql_.substr(0, 60) + "\"");
}

Statement &Statement::bind(int index, int64_t value)
{
    noteBind(sqlite3_bind_int64(stmt_.get(), index, value), index);
    return *this;
}

Statement &Statement::bind(int index, std::string_view text)
{
    noteBind(sqlite3_bind_text64(stmt_.get(), index, text.data(), text.size(), SQLITE_TRANSIENT,
                                 SQLITE_UTF8),
             index);
    return *this;
}

Statement &Statement::bindBlob(int index, ByteView blob)
{
    // A zero-length blob is still a blob, not NULL.
    static const uint8_t kEmpty = 0;
    const void *data = blob.empty() ? &kEmpty : blob.data();
    noteBind(sqlite3_bind_blob64(stmt_.get(), index, data, blob.size(), SQLITE_TRANSIENT), index);
    return *this;
}

Statement &Statement::bindNull(int index)
{
    noteBind(sqlite3_bind_null(stmt_.get(), index), index);
    return *this;
}

Expected<bool> Statement::step()
{
    if (bindError_)
        return *bindError_;
    const int rc = sqlite3_step(stmt_.get());
    if (rc == SQLITE_ROW)
        return true;
    if (rc == SQLITE_DONE)
        return false;
    return db_->error(rc, "\"" + sql_.substr(0, 60) + "\"");
}

Expected<void> Statement::run()
{
    for (;;) {
        BWC_ASSIGN(row, step());
        if (!row)
            return {};
    }
}

void Statement::reset()
{
    sqlite3_reset(stmt_.get());
    sqlite3_clear_bindings(stmt_.get());
    bindError_.reset();
}

int64_t Statement::columnInt(int column) const
{
    return sqlite3_column_int64(stmt_.get(), column);
}

std::string Statement::columnText(int column) const
{
    const unsigned char *text = sqlite3_column_text(stmt_.get(), column);
    if (text == nullptr)
        return {};
    return std::string(reinterpret_cast<const char *>(text),
                       size_t(sqlite3_column_bytes(stmt_.get(), column)));
}

Bytes Statement::columnBlob(int column) const
{
    const auto *data = static_cast<const uint8_t *>(sqlite3_column_blob(stmt_.get(), column));
    if (data == nullptr)
        return {};
    return Bytes(data, data + sqlite3_column_bytes(stmt_.get(), column));
}

bool Statement::columnIsNull(int column) const
{
    return sqlite3_column_type(stmt_.get(), column) == SQLITE_NULL;
}

Expected<Transaction> Transaction::begin(Database &db)
{
    if (db.inTransaction())
        return Error(Errc::Internal,
                     "catalog " + db.path() + ": a transaction is already open on this connection");
    BWC_TRY(db.exec("BEGIN IMMEDIATE"));
    return Transaction(db);
}

Transaction::Transaction(Transaction &&other) noexcept
    : db_(other.db_), open_(std::exchange(other.open_, false))
{
}

Transaction::~Transaction()
{
    if (open_ && db_->inTransaction())
        (void)db_->exec("ROLLBACK");
}

Expected<void> Transaction::commit()
{
    if (!open_)
        return Error(Errc::Internal, "catalog " + db_->path() + ": transaction already ended");
    auto committed = db_->exec("COMMIT");
    if (!committed)
        return committed; // the destructor rolls back
    open_ = false;
    return {};
}

} // namespace bwc::db

#pragma once

// A small RAII layer over SQLite for the dock's catalog and audit log: one owned
// connection, prepared statements, and IMMEDIATE transactions that roll back unless
// committed. Both the evidence catalog and the audit log write through one Database, so
// a stored clip and its audit entry commit in one transaction.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "common/base/bytes.h"
#include "common/base/error.h"

struct sqlite3;
struct sqlite3_stmt;

namespace bwc::db {

class Database
{
public:
    // Opens (creating when missing) the database file. Errc::Io naming the path when
    // SQLite cannot open it.
    static Expected<Database> open(const std::string &path);

    Database(Database &&) noexcept = default;
    Database &operator=(Database &&) noexcept = default;
    Database(const Database &) = delete;
    Database &operator=(const Database &) = delete;

    // Runs one or more statements that return no rows of interest.
    Expected<void> exec(std::string_view sql);
    // The first column of the first row of a single-statement query, as an integer or
    // as text; nullopt when there is no row.
    Expected<std::optional<int64_t>> queryInt(std::string_view sql);
    Expected<std::optional<std::string>> queryText(std::string_view sql);

    int64_t lastInsertRowid() const;
    int changes() const;
    const std::string &path() const { return path_; }
    sqlite3 *handle() const { return db_.get(); }
    bool inTransaction() const;

    // "catalog <path>: <what> failed: <sqlite message>", with the category mapped from
    // the SQLite result code (full disk: Errc::NoSpace; constraint: Errc::Exists).
    Error error(int rc, std::string_view what) const;

private:
    struct Closer {
        void operator()(sqlite3 *db) const;
    };
    Database(std::unique_ptr<sqlite3, Closer> db, std::string path)
        : db_(std::move(db)), path_(std::move(path))
    {
    }

    std::unique_ptr<sqlite3, Closer> db_;
    std::string path_;
};

// A prepared statement. Parameters are numbered from 1 and columns from 0, as in SQLite.
// A failed bind is remembered and reported by the next step().
class Statement
{
public:
    static Expected<Statement> prepare(Database &db, std::string_view sql);

    Statement(Statement &&) noexcept = default;
    Statement &operator=(Statement &&) noexcept = default;
    Statement(const Statement &) = delete;
    Statement &operator=(const Statement &) = delete;

    Statement &bind(int index, int64_t value);
    Statement &bind(int index, std::string_view text);
    Statement &bind(int index, const char *text) { return bind(index, std::string_view(text)); }
    Statement &bind(int index, const std::string &text)
    {
        return bind(index, std::string_view(text));
    }
    Statement &bindBlob(int index, ByteView blob);
    Statement &bindNull(int index);

    // true: a row is available; false: the statement is done.
    Expected<bool> step();
    // Steps until done (INSERT, UPDATE, DELETE).
    Expected<void> run();
    // Ready for new bindings and another run.
    void reset();

    int64_t columnInt(int column) const;
    std::string columnText(int column) const;
    Bytes columnBlob(int column) const;
    bool columnIsNull(int column) const;

private:
    struct Finalizer {
        void operator()(sqlite3_stmt *stmt) const;
    };
    Statement(Database &db, std::unique_ptr<sqlite3_stmt, Finalizer> stmt, std::string sql)
        : db_(&db), stmt_(std::move(stmt)), sql_(std::move(sql))
    {
    }
    void noteBind(int rc, int index);

    Database *db_;
    std::unique_ptr<sqlite3_stmt, Finalizer> stmt_;
    std::string sql_;
    std::optional<Error> bindError_;
};

// BEGIN IMMEDIATE on creation (the write lock is taken at once, so the reads inside see
// the state that the writes will change); ROLLBACK on destruction unless committed.
class Transaction
{
public:
    static Expected<Transaction> begin(Database &db);

    Transaction(Transaction &&other) noexcept;
    Transaction &operator=(Transaction &&) = delete;
    Transaction(const Transaction &) = delete;
    Transaction &operator=(const Transaction &) = delete;
    ~Transaction();

    Expected<void> commit();
    Database &database() const { return *db_; }

private:
    explicit Transaction(Database &db) : db_(&db) {}

    Database *db_;
    bool open_ = true;
};

} // namespace bwc::db

// The PostgreSQL endpoint through pgjdbc, the driver DBeaver and Metabase connect with: sign-in,
// the table, column, key, index, type and function metadata they browse and sync
// (DatabaseMetaData), SHOW, and a prepared statement.
//
// Usage (run by tests/pg/clients.py against a server it started):
//   java -cp /usr/share/java/postgresql.jar tests/pg/Jdbc.java PORT USER PASSWORD DISTRICT COUNT
// Exits non-zero, naming the check, when one fails.

import java.sql.Connection;
import java.sql.DatabaseMetaData;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.Types;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;

public class Jdbc {
    static void check(boolean ok, String what) {
        if (!ok) {
            throw new AssertionError(what);
        }
    }

    public static void main(String[] args) throws Exception {
        String url = "jdbc:postgresql://127.0.0.1:" + args[0] + "/hotline?sslmode=disable";
        Properties props = new Properties();
        props.setProperty("user", args[1]);
        props.setProperty("password", args[2]);
        try (Connection conn = DriverManager.getConnection(url, props)) {
            DatabaseMetaData meta = conn.getMetaData();

            List<String> tables = new ArrayList<>();
            try (ResultSet rs = meta.getTables(null, "public", "%", new String[] {"TABLE"})) {
                while (rs.next()) {
                    tables.add(rs.getString("TABLE_NAME"));
                }
            }
            check(tables.contains("calls") && tables.contains("entities"), "getTables lists the tables: " + tables);
            check(tables.stream().noneMatch(t -> t.contains("pii")), "an analyst sees a restricted table: " + tables);

            List<String> columns = new ArrayList<>();
            int receivedType = Types.NULL;
            try (ResultSet rs = meta.getColumns(null, "public", "calls", "%")) {
                while (rs.next()) {
                    columns.add(rs.getString("COLUMN_NAME"));
                    if ("received_at".equals(rs.getString("COLUMN_NAME"))) {
                        receivedType = rs.getInt("DATA_TYPE");
                    }
                }
            }
            check(columns.contains("call_id") && columns.contains("district"), "getColumns of calls: " + columns);
            check(receivedType == Types.TIMESTAMP || receivedType == Types.TIMESTAMP_WITH_TIMEZONE,
                  "received_at is a timestamp, not type " + receivedType);
            try (ResultSet rs = meta.getColumns(null, "public", "calls_pii", "%")) {
                check(!rs.next(), "an analyst sees a restricted table's columns");
            }

            try (ResultSet rs = meta.getPrimaryKeys(null, "public", "calls")) {
                check(!rs.next(), "calls has no primary key here");
            }
            try (ResultSet rs = meta.getImportedKeys(null, "public", "calls")) {
                check(!rs.next(), "calls has no foreign key here");
            }
            try (ResultSet rs = meta.getIndexInfo(null, "public", "calls", false, true)) {
                check(!rs.next(), "calls has no index here");
            }

            // What DBeaver reads to fill its type, function and procedure lists.
            int types = 0;
            boolean varchar = false;
            try (ResultSet rs = meta.getTypeInfo()) {
                while (rs.next()) {
                    types++;
                    varchar |= "varchar".equals(rs.getString("TYPE_NAME")) && rs.getInt("DATA_TYPE") == Types.VARCHAR;
                }
            }
            check(varchar, "getTypeInfo lists varchar among " + types + " types");
            try (ResultSet rs = meta.getFunctions(null, "public", "%")) {
                check(!rs.next(), "public holds no function here");
            }
            try (ResultSet rs = meta.getProcedures(null, "public", "%")) {
                check(!rs.next(), "public holds no procedure here");
            }
            try (ResultSet rs = meta.getUDTs(null, "public", "%", null)) {
                check(!rs.next(), "public holds no user type here");
            }
            // The version, as SHOW answers it (an extended-protocol query here) and as metadata.
            try (PreparedStatement st = conn.prepareStatement("SHOW server_version");
                 ResultSet rs = st.executeQuery()) {
                check(rs.next() && "16.6".equals(rs.getString(1)), "SHOW server_version answers the version()'s");
            }
            check(meta.getDatabaseMajorVersion() == 16, "major version " + meta.getDatabaseMajorVersion());

            long count;
            try (PreparedStatement st = conn.prepareStatement("SELECT count(*) FROM calls WHERE district = ?")) {
                st.setString(1, args[3]);
                try (ResultSet rs = st.executeQuery()) {
                    check(rs.next(), "a count has a row");
                    count = rs.getLong(1);
                }
            }
            check(count == Long.parseLong(args[4]), "a prepared count " + count + " differs from hotline sql " + args[4]);
            System.out.println("pgjdbc: " + tables.size() + " tables, calls has " + columns.size()
                + " columns, a prepared count of " + count);
        }
    }
}

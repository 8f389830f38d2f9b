// A java.sql.Driver that lets Debezium's MySQL connector talk to MariaDB through
// MySQL Connector/J.
//
// Debezium 3.6 reads a MariaDB version string such as "10.11.19-MariaDB" as a MySQL
// version >= 8.4 and therefore asks for the binlog position with
// `SHOW BINARY LOG STATUS`, which MariaDB 10.11 does not know. This driver accepts
// URLs that start with "jdbc:mariadb-compat:", hands them to com.mysql.cj.jdbc.Driver
// as "jdbc:mysql:..." and rewrites the SQL text of every statement it is given
// (Connection.prepareStatement/prepareCall/nativeSQL, Statement.execute*/addBatch):
//
//   SHOW BINARY LOG STATUS  ->  SHOW MASTER STATUS
//
// Everything else goes to the MySQL driver unchanged.
//
// Connector properties:
//   database.jdbc.driver=MariaDbCompatDriver
//   database.protocol=jdbc:mariadb-compat

import java.lang.reflect.InvocationHandler;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.lang.reflect.Proxy;
import java.sql.CallableStatement;
import java.sql.Connection;
import java.sql.Driver;
import java.sql.DriverManager;
import java.sql.DriverPropertyInfo;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.sql.SQLFeatureNotSupportedException;
import java.sql.Statement;
import java.util.Properties;
import java.util.logging.Logger;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

public final class MariaDbCompatDriver implements Driver {

    /** URL prefix this driver answers to. */
    public static final String PREFIX = "jdbc:mariadb-compat:";
    /** What the prefix is replaced with before the URL goes to Connector/J. */
    public static final String TARGET_PREFIX = "jdbc:mysql:";

    private static final Pattern BINARY_LOG_STATUS =
            Pattern.compile("^(\\s*)SHOW\\s+BINARY\\s+LOG\\s+STATUS\\b", Pattern.CASE_INSENSITIVE);

    static {
        try {
            DriverManager.registerDriver(new MariaDbCompatDriver());
        } catch (SQLException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    private volatile Driver delegate;

    public MariaDbCompatDriver() {
    }

    private Driver delegate() throws SQLException {
        Driver d = delegate;
        if (d == null) {
            try {
                d = (Driver) Class.forName("com.mysql.cj.jdbc.Driver", true, MariaDbCompatDriver.class.getClassLoader())
                        .getDeclaredConstructor()
                        .newInstance();
            } catch (ReflectiveOperationException e) {
                throw new SQLException("MySQL Connector/J (com.mysql.cj.jdbc.Driver) is not on the class path", e);
            }
            delegate = d;
        }
        return d;
    }

    /** The SQL text that is sent to the server instead of {@code sql}. */
    public static String rewrite(String sql) {
        if (sql == null) {
            return null;
        }
        Matcher m = BINARY_LOG_STATUS.matcher(sql);
        if (m.find()) {
            return m.group(1) + "SHOW MASTER STATUS" + sql.substring(m.end());
        }
        return sql;
    }

    static String targetUrl(String url) {
        return TARGET_PREFIX + url.substring(PREFIX.length());
    }

    @Override
    public boolean acceptsURL(String url) {
        return url != null && url.startsWith(PREFIX);
    }

    @Override
    public Connection connect(String url, Properties info) throws SQLException {
        if (!acceptsURL(url)) {
            return null; // the DriverManager contract: not ours
        }
        Connection c = delegate().connect(targetUrl(url), info);
        return c == null ? null : wrap(Connection.class, c, null);
    }

    @Override
    public DriverPropertyInfo[] getPropertyInfo(String url, Properties info) throws SQLException {
        return delegate().getPropertyInfo(acceptsURL(url) ? targetUrl(url) : url, info);
    }

    @Override
    public int getMajorVersion() {
        return 1;
    }

    @Override
    public int getMinorVersion() {
        return 0;
    }

    @Override
    public boolean jdbcCompliant() {
        return false;
    }

    @Override
    public Logger getParentLogger() throws SQLFeatureNotSupportedException {
        throw new SQLFeatureNotSupportedException();
    }

    // ---- proxies --------------------------------------------------------------------------

    @SuppressWarnings("unchecked")
    static <T> T wrap(Class<T> iface, T target, Connection owner) {
        return (T) Proxy.newProxyInstance(MariaDbCompatDriver.class.getClassLoader(), new Class<?>[] {iface},
                new Handler(target, owner));
    }

    private static final class Handler implements InvocationHandler {
        private final Object target;
        /** For statements: the proxied connection they belong to (what getConnection() returns). */
        private final Connection owner;

        Handler(Object target, Connection owner) {
            this.target = target;
            this.owner = owner;
        }

        @Override
        public Object invoke(Object proxy, Method method, Object[] args) throws Throwable {
            String name = method.getName();
            Class<?>[] params = method.getParameterTypes();
            switch (name) {
                case "equals":
                    if (params.length == 1) {
                        return proxy == args[0];
                    }
                    break;
                case "hashCode":
                    if (params.length == 0) {
                        return System.identityHashCode(proxy);
                    }
                    break;
                case "toString":
                    if (params.length == 0) {
                        return "MariaDbCompatDriver proxy for " + target;
                    }
                    break;
                case "unwrap":
                    if (params.length == 1 && args[0] instanceof Class<?> c && c.isInstance(proxy)) {
                        return proxy;
                    }
                    break;
                case "isWrapperFor":
                    if (params.length == 1 && args[0] instanceof Class<?> c && c.isInstance(proxy)) {
                        return true;
                    }
                    break;
                case "getConnection":
                    if (owner != null && params.length == 0) {
                        return owner;
                    }
                    break;
                default:
                    break;
            }
            // SQL text arguments: the first String parameter of the SQL-taking methods.
            if (params.length > 0 && params[0] == String.class && takesSql(name)) {
                args = args.clone();
                args[0] = rewrite((String) args[0]);
            }
            Object result;
            try {
                result = method.invoke(target, args);
            } catch (InvocationTargetException e) {
                throw e.getCause();
            }
            if (result == null) {
                return null;
            }
            Connection conn = target instanceof Connection ? (Connection) proxy : owner;
            Class<?> rt = method.getReturnType();
            if (rt == CallableStatement.class) {
                return wrap(CallableStatement.class, (CallableStatement) result, conn);
            }
            if (rt == PreparedStatement.class) {
                return wrap(PreparedStatement.class, (PreparedStatement) result, conn);
            }
            if (rt == Statement.class) {
                return wrap(Statement.class, (Statement) result, conn);
            }
            return result;
        }

        private static boolean takesSql(String method) {
            return switch (method) {
                case "prepareStatement", "prepareCall", "nativeSQL", "execute", "executeQuery", "executeUpdate",
                        "executeLargeUpdate", "addBatch" -> true;
                default -> false;
            };
        }
    }
}

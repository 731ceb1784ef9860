// The shared Spark Connect server's catalog is read-only for every session.
//
// Sessions of one server share its catalog: a table, a view, a database or a function that one
// student's session made, every other student's session would see (and could drop). This Spark
// extension adds a check to the analyzer: a plan that would change the shared catalog, load code into
// the server (ADD JAR) or make a global temporary view is refused with a sentence. What a session
// keeps to itself stays allowed: temporary views, temporary functions, caching, reading and writing
// files. Calling Java methods by reflection (`reflect`, `java_method`) is refused too: it would reach
// the server's own objects. Loaded with spark.sql.extensions=SharedCatalogGuard (grader/sandbox/spark_server.py).
import java.util.regex.Pattern;

import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.SparkSessionExtensions;
import org.apache.spark.sql.catalyst.expressions.Expression;
import org.apache.spark.sql.catalyst.plans.logical.LogicalPlan;

import scala.Function1;
import scala.runtime.AbstractFunction1;
import scala.runtime.BoxedUnit;

public class SharedCatalogGuard extends AbstractFunction1<SparkSessionExtensions, BoxedUnit> {
    // Plan nodes that change what every session sees, by their class names in Spark 4.
    private static final Pattern SHARED = Pattern.compile(
        "^(Create|Drop|Alter|Rename|Replace|Truncate|Comment|Repair|Analyze|Load|Add(Jars|Files|Archives)|MergeInto"
        + "|UpdateTable|DeleteFromTable|InsertIntoStatement|InsertIntoHiveTable|InsertIntoDataSourceCommand"
        + "|Set(Namespace|Table|View)(Location|Properties)|Unset|SetTableSerDe|RefreshFunction).*");
    // Of those, what stays in the session: local temporary views and temporary functions.
    private static final Pattern SESSION = Pattern.compile("^(CreateTempView|DropTempViewCommand)$");

    @Override
    public BoxedUnit apply(SparkSessionExtensions extensions) {
        extensions.injectCheckRule(new AbstractFunction1<SparkSession, Function1<LogicalPlan, BoxedUnit>>() {
            @Override
            public Function1<LogicalPlan, BoxedUnit> apply(SparkSession session) {
                return new AbstractFunction1<LogicalPlan, BoxedUnit>() {
                    @Override
                    public BoxedUnit apply(LogicalPlan plan) {
                        plan.foreach(new AbstractFunction1<LogicalPlan, BoxedUnit>() {
                            @Override
                            public BoxedUnit apply(LogicalPlan node) {
                                check(node);
                                return BoxedUnit.UNIT;
                            }
                        });
                        return BoxedUnit.UNIT;
                    }
                };
            }
        });
        return BoxedUnit.UNIT;
    }

    private static void check(LogicalPlan node) {
        node.expressions().foreach(new AbstractFunction1<Expression, BoxedUnit>() {
            @Override
            public BoxedUnit apply(Expression expression) {
                expression.foreach(new AbstractFunction1<Expression, BoxedUnit>() {
                    @Override
                    public BoxedUnit apply(Expression sub) {
                        if (sub.getClass().getSimpleName().contains("Reflection")) {
                            throw new UnsupportedOperationException(
                                "Calling Java methods by reflection is not allowed on the grading server.");
                        }
                        return BoxedUnit.UNIT;
                    }
                });
                return BoxedUnit.UNIT;
            }
        });
        String name = node.getClass().getSimpleName();
        String text = node.simpleString(200);
        boolean function = name.startsWith("CreateFunction") || name.startsWith("DropFunction")
            || name.startsWith("CreateUserDefinedFunction") || name.startsWith("CreateSQLFunction");
        boolean local = SESSION.matcher(name).matches()
            || (name.equals("CreateViewCommand") && text.contains("LocalTempView"))
            || (function && isTemporary(node));
        if (SHARED.matcher(name).matches() && !local) {
            throw new UnsupportedOperationException(
                "The grading server's catalog is shared by every student and read-only: " + name
                + " is not allowed while grading (temporary views and functions are).");
        }
    }

    private static boolean isTemporary(LogicalPlan node) {
        for (java.lang.reflect.Method method : node.getClass().getMethods()) {
            if ((method.getName().equals("isTemp") || method.getName().equals("isTemporary"))
                && method.getParameterCount() == 0) {
                try {
                    return Boolean.TRUE.equals(method.invoke(node));
                } catch (ReflectiveOperationException error) {
                    return false;
                }
            }
        }
        return false;
    }
}

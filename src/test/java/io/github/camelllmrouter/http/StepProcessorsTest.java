package io.github.camelllmrouter.http;

import io.github.camelllmrouter.access.ApiKeys;
import org.apache.camel.CamelContext;
import org.apache.camel.Processor;
import org.apache.camel.impl.DefaultCamelContext;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

/** The steps the llm and keys beans bind as processors, and what they leave alone. */
class StepProcessorsTest {

    @Test
    void the_beans_bind_their_steps_under_their_own_names() throws Exception {
        try (CamelContext context = new DefaultCamelContext()) {
            new LlmSteps().setCamelContext(context);
            new ApiKeys().setCamelContext(context);
            for (String name : new String[] {LlmSteps.ACCEPT, LlmSteps.PARSE, LlmSteps.RESOLVE, ApiKeys.AUTHENTICATE, ApiKeys.AUTHORIZE}) {
                assertThat(context.getRegistry().lookupByNameAndType(name, Processor.class)).as(name).isNotNull();
            }
        }
    }

    @Test
    void a_name_bound_already_is_not_taken_over() throws Exception {
        try (CamelContext context = new DefaultCamelContext()) {
            Processor hosts = exchange -> { };
            context.getRegistry().bind(ApiKeys.AUTHENTICATE, hosts);
            ApiKeys first = new ApiKeys();
            first.setCamelContext(context);
            Processor firstAuthorize = context.getRegistry().lookupByNameAndType(ApiKeys.AUTHORIZE, Processor.class);
            // a second keys bean joining the same context (a route's bean step with its own instance) binds nothing
            new ApiKeys().setCamelContext(context);

            assertThat(context.getRegistry().lookupByName(ApiKeys.AUTHENTICATE)).isSameAs(hosts);
            assertThat(context.getRegistry().lookupByName(ApiKeys.AUTHORIZE)).isSameAs(firstAuthorize);
        }
    }
}
